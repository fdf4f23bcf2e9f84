// The QBFT genesis file of the kit (DESIGN §2 "Besu"; Besu docs "Configure QBFT consensus",
// "Genesis file items"). Pure: every input is a parameter, the output a plain JSON object.
import { getAddress } from "ethers";

import { BesuKitOptionError } from "./errors.ts";
import { genesisExtraData } from "./extra-data.ts";
import type { GenesisAccount } from "./registry-genesis.ts";
import type { BesuPraguePlan } from "./versions.ts";

/** The 30M block gas limit of DESIGN §2 (and of the embedded Hardhat chain). */
export const BLOCK_GAS_LIMIT = 30_000_000;
/** QBFT's fixed genesis `mixHash` ("Istanbul block identification", Besu docs). */
export const QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365";
/** QBFT's fixed genesis `difficulty`. */
export const QBFT_DIFFICULTY = "0x1";
/** Votes are discarded every epoch (Besu's documented default). */
export const QBFT_EPOCH_LENGTH = 30_000;
/** Balance of every kit account: 1,000,000 ETH. Gas is free, but tools that price with a priority fee still check balances. */
export const ACCOUNT_BALANCE = "0xd3c21bcecceda1000000";

/** Prague system contracts (EIP-7002, EIP-7251) and the mainnet deposit contract address. */
export const DEPOSIT_CONTRACT_ADDRESS = "0x00000000219ab540356cBB839Cbe05303d7705Fa";
export const WITHDRAWAL_REQUEST_CONTRACT_ADDRESS = "0x00000961Ef480Eb55e80D19ad83579A64c007002";
export const CONSOLIDATION_REQUEST_CONTRACT_ADDRESS = "0x0000BBdDc7CE488642fb579F8B00f3a590007251";
/** EIP-7002 runtime code (as deployed on mainnet; go-ethereum params.WithdrawalQueueCode). */
export const WITHDRAWAL_REQUEST_CONTRACT_CODE =
  "0x3373fffffffffffffffffffffffffffffffffffffffe1460cb5760115f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff146101f457600182026001905f5b5f82111560685781019083028483029004916001019190604d565b909390049250505036603814608857366101f457346101f4575f5260205ff35b34106101f457600154600101600155600354806003026004013381556001015f35815560010160203590553360601b5f5260385f601437604c5fa0600101600355005b6003546002548082038060101160df575060105b5f5b8181146101835782810160030260040181604c02815460601b8152601401816001015481526020019060020154807fffffffffffffffffffffffffffffffff00000000000000000000000000000000168252906010019060401c908160381c81600701538160301c81600601538160281c81600501538160201c81600401538160181c81600301538160101c81600201538160081c81600101535360010160e1565b910180921461019557906002556101a0565b90505f6002555f6003555b5f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff14156101cd57505f5b6001546002828201116101e25750505f6101e8565b01600290035b5f555f600155604c025ff35b5f5ffd";
/** EIP-7251 runtime code (as deployed on mainnet; go-ethereum params.ConsolidationQueueCode). */
export const CONSOLIDATION_REQUEST_CONTRACT_CODE =
  "0x3373fffffffffffffffffffffffffffffffffffffffe1460d35760115f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff1461019a57600182026001905f5b5f82111560685781019083028483029004916001019190604d565b9093900492505050366060146088573661019a573461019a575f5260205ff35b341061019a57600154600101600155600354806004026004013381556001015f358155600101602035815560010160403590553360601b5f5260605f60143760745fa0600101600355005b6003546002548082038060021160e7575060025b5f5b8181146101295782810160040260040181607402815460601b815260140181600101548152602001816002015481526020019060030154905260010160e9565b910180921461013b5790600255610146565b90505f6002555f6003555b5f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff141561017357505f5b6001546001828201116101885750505f61018e565b01600190035b5f555f6001556074025ff35b5f5ffd";

export interface QbftGenesisInit {
  readonly chainId: number;
  /** `blockperiodseconds` ≥ 1; `requesttimeoutseconds` is twice it (Besu's tuning advice). */
  readonly blockPeriodSeconds: number;
  /** Genesis validators in header order (ascending address, as Besu sorts them). */
  readonly validators: readonly string[];
  /** The validator contract and the first block that takes its validators from it (≥ 1). */
  readonly validatorContract: { readonly address: string; readonly fromBlock: number };
  /** Registry (and key-table) accounts, already laid out. */
  readonly contractAlloc: Readonly<Record<string, GenesisAccount>>;
  /** Accounts funded with ACCOUNT_BALANCE (deployer, role holders, nodes). */
  readonly fundedAccounts: readonly string[];
  readonly prague: BesuPraguePlan;
}

/** The genesis file's JSON object. Keys are in the order Besu's docs show them. */
export interface QbftGenesis {
  readonly config: Record<string, unknown>;
  readonly nonce: string;
  readonly timestamp: string;
  readonly extraData: string;
  readonly gasLimit: string;
  readonly difficulty: string;
  readonly mixHash: string;
  readonly coinbase: string;
  readonly alloc: Record<string, GenesisAccount>;
}

/**
 * The QBFT genesis: every fork through Prague at block/time 0, zero base fee, a 30M gas limit,
 * block-header validator selection with `validators` in `extraData` until
 * `validatorContract.fromBlock`, then contract selection (`transitions.qbft`). Throws
 * BesuKitOptionError on a chain id, period or transition block out of range.
 */
export function qbftGenesis(init: QbftGenesisInit): QbftGenesis {
  const { chainId, blockPeriodSeconds, validatorContract } = init;
  if (!Number.isSafeInteger(chainId) || chainId < 1) {
    throw new BesuKitOptionError(`chain id must be a positive integer, got ${chainId}`);
  }
  if (!Number.isSafeInteger(blockPeriodSeconds) || blockPeriodSeconds < 1) {
    throw new BesuKitOptionError(
      `block period must be a whole number of seconds ≥ 1, got ${blockPeriodSeconds}`,
    );
  }
  if (!Number.isSafeInteger(validatorContract.fromBlock) || validatorContract.fromBlock < 1) {
    // Besu rejects a validator-selection transition at block 0 (contract mode from genesis is the
    // `qbft.validatorcontractaddress` form instead; docs/BESU.md says why the kit does not use it).
    throw new BesuKitOptionError(
      `the contract-mode transition block must be ≥ 1, got ${validatorContract.fromBlock}`,
    );
  }
  const registry = getAddress(validatorContract.address);
  const alloc: Record<string, GenesisAccount> = {};
  for (const account of init.fundedAccounts) {
    alloc[getAddress(account)] = { balance: ACCOUNT_BALANCE };
  }
  for (const [address, account] of Object.entries(init.contractAlloc)) {
    alloc[getAddress(address)] = account;
  }
  if (!alloc[registry]?.code) {
    throw new BesuKitOptionError(
      `the validator contract ${registry} has no code in the genesis alloc`,
    );
  }
  const config: Record<string, unknown> = {
    chainId,
    homesteadBlock: 0,
    eip150Block: 0,
    eip155Block: 0,
    eip158Block: 0,
    byzantiumBlock: 0,
    constantinopleBlock: 0,
    petersburgBlock: 0,
    istanbulBlock: 0,
    muirGlacierBlock: 0,
    berlinBlock: 0,
    londonBlock: 0,
    arrowGlacierBlock: 0,
    grayGlacierBlock: 0,
    shanghaiTime: 0,
    cancunTime: 0,
    pragueTime: 0,
    zeroBaseFee: true,
    qbft: {
      blockperiodseconds: blockPeriodSeconds,
      epochlength: QBFT_EPOCH_LENGTH,
      requesttimeoutseconds: 2 * blockPeriodSeconds,
    },
    transitions: {
      qbft: [
        {
          block: validatorContract.fromBlock,
          validatorselectionmode: "contract",
          validatorcontractaddress: registry.toLowerCase(),
        },
      ],
    },
  };
  if (init.prague.systemContracts) {
    config.depositContractAddress = DEPOSIT_CONTRACT_ADDRESS.toLowerCase();
    config.withdrawalRequestContractAddress = WITHDRAWAL_REQUEST_CONTRACT_ADDRESS.toLowerCase();
    config.consolidationRequestContractAddress =
      CONSOLIDATION_REQUEST_CONTRACT_ADDRESS.toLowerCase();
    alloc[getAddress(WITHDRAWAL_REQUEST_CONTRACT_ADDRESS)] = {
      comment: "EIP-7002 withdrawal request predeploy (Besu 25.5–25.12 need code here from Prague)",
      balance: "0x0",
      nonce: "0x1",
      code: WITHDRAWAL_REQUEST_CONTRACT_CODE,
    };
    alloc[getAddress(CONSOLIDATION_REQUEST_CONTRACT_ADDRESS)] = {
      comment:
        "EIP-7251 consolidation request predeploy (Besu 25.5–25.12 need code here from Prague)",
      balance: "0x0",
      nonce: "0x1",
      code: CONSOLIDATION_REQUEST_CONTRACT_CODE,
    };
  }
  return {
    config,
    nonce: "0x0",
    timestamp: "0x0",
    extraData: genesisExtraData(init.validators),
    gasLimit: "0x" + BLOCK_GAS_LIMIT.toString(16),
    difficulty: QBFT_DIFFICULTY,
    mixHash: QBFT_MIX_HASH,
    coinbase: "0x" + "00".repeat(20),
    alloc,
  };
}
