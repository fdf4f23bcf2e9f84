// The AggregationLedger (and its ReputationRegistry) as the BBNP roles see them: the only code that
// touches these contracts' ABI (issue 11: "the BBNP chain adapter moves out of sim/ into chain/").
// `AggregationLedgerAdapter` deploys or attaches (admin) and performs the ledger's calls; the role
// clients built from it (`gatewayLedgerClient`, `nodeLedgerClient`) implement the interfaces the
// roles declare (gateway/agent.ts `GatewayLedgerClient`, consensus/agent.ts `ConsensusLedgerClient`),
// each bound to the role's own chain signer. Roles never import this module; their composition
// roots (offchain/sim/bbnp.ts, offchain/node/roles/) do. DESIGN §4.8 (ledger), §5 (consensus).
import {
  Contract,
  ContractFactory,
  ZeroAddress,
  getAddress,
  keccak256,
  type ContractTransactionReceipt,
  type InterfaceAbi,
  type Signer,
} from "ethers";

import type { AggregationLedger, ReputationRegistry } from "../../types/ethers-contracts/index.ts";
import {
  commitBlockArgs,
  packReputations,
  unpackReputations,
  type ConsensusBlock,
  type QuorumCertificate,
} from "../consensus/block.ts";
import type { RecordedSelection } from "../consensus/agent.ts";
import type { SelectionReveals } from "../consensus/driver.ts";
import {
  blsProvePossession,
  blsPublicKey,
  EIP2537_G2_LENGTH,
  eip2537ToG2,
  g1ToEip2537,
  g2ToEip2537,
} from "../crypto/bls.ts";
import { concatBytes, hexToBytes, toHex0x } from "../crypto/bytes.ts";
import { aggregationDomain } from "../protocol/aggregation.ts";
import { DeploymentMismatchError, readArtifact } from "./deploy.ts";
import { ContractRevertError, chainCall, toChainError } from "./errors.ts";
import { noteWrite } from "./provider.ts";
import { mined, settled } from "./tx.ts";

/** Accounts: admin (deploys, grants, rotates keys), the gateway, one per consensus node. */
export interface AggregationChainAccess {
  readonly admin: Signer;
  readonly gateway: Signer;
  readonly nodes?: readonly Signer[];
}

/** 0x-hex at the chain edge: the project's one helper. */
const hex = toHex0x;

/** A round as the chain recorded it: the sum read back from the event, and the gas used. */
export interface RoundOnChain {
  readonly sum: bigint;
  readonly gasUsed: bigint;
}

/** How long `recordRound` waits for the gateway's pending transactions before reading the ledger. */
export const RECORD_SETTLE_MS = 60_000;

/** The devnet's selection timeouts (blocks; one block per transaction): reveal, primary window. */
const SIM_REVEAL_TIMEOUT_BLOCKS = 1;
const SIM_PRIMARY_WINDOW_BLOCKS = 2;

export class AggregationLedgerAdapter {
  readonly ledger: AggregationLedger;
  readonly registry: ReputationRegistry | undefined;
  readonly address: string;
  readonly domain: Uint8Array;
  readonly deployGas: bigint;
  readonly #admin: Signer;

  private constructor(
    ledger: AggregationLedger,
    registry: ReputationRegistry | undefined,
    address: string,
    domain: Uint8Array,
    deployGas: bigint,
    admin: Signer,
  ) {
    this.ledger = ledger;
    this.registry = registry;
    this.address = address;
    this.domain = domain;
    this.deployGas = deployGas;
    this.#admin = admin;
  }

  /**
   * Connects to a deployed AggregationLedger (and the registry bound to it, if any) with `signer`
   * (a role's own chain account, which also stands for the admin in the read-only uses: provider
   * access, mining on a dev chain). Throws `DeploymentMismatchError` when there is no contract at
   * `ledgerAddress`.
   */
  static async connect(signer: Signer, ledgerAddress: string): Promise<AggregationLedgerAdapter> {
    const provider = signer.provider;
    if (!provider) throw new Error("AggregationLedgerAdapter.connect: the signer needs a provider");
    const { abi } = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
    if ((await chainCall(() => provider.getCode(ledgerAddress))) === "0x") {
      throw new DeploymentMismatchError(`no AggregationLedger at ${ledgerAddress} on this chain`);
    }
    const ledger = new Contract(
      ledgerAddress,
      abi as InterfaceAbi,
      signer,
    ) as unknown as AggregationLedger;
    const bound = await chainCall(() => ledger.registry());
    let registry: ReputationRegistry | undefined;
    if (bound !== ZeroAddress) {
      const r = readArtifact("consensus/ReputationRegistry.sol", "ReputationRegistry");
      registry = new Contract(
        bound,
        r.abi as InterfaceAbi,
        signer,
      ) as unknown as ReputationRegistry;
    }
    const { chainId } = await chainCall(() => provider.getNetwork());
    const domain = aggregationDomain(chainId, getAddress(ledgerAddress));
    return new AggregationLedgerAdapter(
      ledger,
      registry,
      getAddress(ledgerAddress),
      domain,
      0n,
      signer,
    );
  }

  /** The last recorded or committed round (0n when none): where a restarted gateway resumes. */
  async lastRound(): Promise<bigint> {
    const [round, any] = await chainCall(() => this.ledger.lastRound());
    return any ? BigInt(round) : 0n;
  }

  /**
   * Deploys the ledger with `S_g` (48-byte compressed G1, the TA's `params.gatewayPublicKey`:
   * the deployer never holds s_g) and, in consensus mode, a registry with the nodes (keys with
   * proofs of possession, initial reputations). Checks the ledger's domain against ours.
   */
  static async deploy(
    chain: AggregationChainAccess,
    gatewayPublicKey: Uint8Array,
    minReporters: number,
    nodes?: { readonly secretKeys: readonly bigint[]; readonly reputations: readonly bigint[] },
    attach?: BbnpDeployment,
  ): Promise<AggregationLedgerAdapter> {
    return AggregationLedgerAdapter.deployPublic(
      chain,
      gatewayPublicKey,
      minReporters,
      nodes && {
        publicKeys: nodes.secretKeys.map(blsPublicKey),
        proofsOfPossession: nodes.secretKeys.map(blsProvePossession),
        reputations: nodes.reputations,
      },
      attach,
    );
  }

  /**
   * As {@link deploy}, from public material only (the trusted authority's set-up output, e.g.
   * `bbnpSetup(...).deployment`): S_g (48-byte compressed G1) and, in consensus mode, each node's
   * key, proof of possession (96-byte G2) and initial reputation (1e18 fixed point).
   */
  static async deployPublic(
    chain: AggregationChainAccess,
    gatewayPublicKey: Uint8Array,
    minReporters: number,
    nodes?: {
      readonly publicKeys: readonly Uint8Array[];
      readonly proofsOfPossession: readonly Uint8Array[];
      readonly reputations: readonly bigint[];
    },
    attach?: BbnpDeployment,
  ): Promise<AggregationLedgerAdapter> {
    let gas = 0n;
    const add = (r: ContractTransactionReceipt | null) => {
      gas += r?.gasUsed ?? 0n;
    };
    const admin = chain.admin;
    const adminAddress = await admin.getAddress();
    const deploy = async (
      path: string,
      name: string,
      args: readonly unknown[],
    ): Promise<{ address: string; abi: InterfaceAbi; registry?: undefined }> => {
      const { abi, bytecode } = readArtifact(path, name);
      return chainCall(async () => {
        const c = await new ContractFactory(abi, bytecode, admin).deploy(...args);
        const receipt = await c.deploymentTransaction()?.wait();
        if (receipt) noteWrite(admin.provider, receipt);
        add(receipt ?? null);
        return { address: await c.getAddress(), abi: abi as InterfaceAbi };
      });
    };
    const gatewayKey = hex(g1ToEip2537(gatewayPublicKey));
    const l = attach
      ? await attachLedger(admin, attach, nodes !== undefined, gatewayKey, add)
      : await deploy("ledger/AggregationLedger.sol", "AggregationLedger", [
          adminAddress,
          gatewayKey,
        ]);
    const ledger = new Contract(
      l.address,
      l.abi as InterfaceAbi,
      admin,
    ) as unknown as AggregationLedger;
    let registry: ReputationRegistry | undefined;
    if (nodes) {
      const accounts = chain.nodes ?? [];
      if (accounts.length < nodes.publicKeys.length) {
        throw new Error(
          `AggregationLedgerAdapter: ${nodes.publicKeys.length} consensus nodes need as many node accounts, got ${accounts.length}`,
        );
      }
      const r =
        l.registry ??
        (await deploy("consensus/ReputationRegistry.sol", "ReputationRegistry", [adminAddress]));
      registry = new Contract(
        r.address,
        r.abi as InterfaceAbi,
        admin,
      ) as unknown as ReputationRegistry;
      if (!l.registry) {
        add(await mined(registry.bindLedger(l.address)));
        add(await mined(ledger.bindRegistry(r.address)));
      }
      for (let j = 0; j < nodes.publicKeys.length; j++) {
        add(
          await (
            await registry.addNode(
              await accounts[j].getAddress(),
              hex(g1ToEip2537(nodes.publicKeys[j])),
              hex(g2ToEip2537(nodes.proofsOfPossession[j])),
              nodes.reputations[j],
              hex(packReputations(nodes.reputations.slice(0, j))),
            )
          ).wait(),
        );
      }
    } else {
      add(
        await (
          await ledger.grantRole(await ledger.GATEWAY_ROLE(), await chain.gateway.getAddress())
        ).wait(),
      );
    }
    const provider = admin.provider;
    if (!provider) throw new Error("AggregationLedgerAdapter: the admin signer needs a provider");
    const { chainId } = await provider.getNetwork();
    const domain = aggregationDomain(chainId, l.address);
    // The round configuration's reporter minimum: the same value as the TA's parameters.
    if (BigInt(await ledger.minReporters()) !== BigInt(minReporters)) {
      add(await (await ledger.setMinReporters(minReporters)).wait());
    }
    if ((await ledger.domainSeparator()) !== hex(domain)) {
      throw new Error(
        "AggregationLedgerAdapter: the ledger's domain separator differs from aggregationDomain",
      );
    }
    // Selection timeouts for a chain that mines one block per transaction (the devnet): the
    // reveal window lasts one block, the selected primary's window two (docs/CONSENSUS.md).
    if (registry) {
      const [reveal, window] = await ledger.selectionTimeouts();
      if (
        Number(reveal) !== SIM_REVEAL_TIMEOUT_BLOCKS ||
        Number(window) !== SIM_PRIMARY_WINDOW_BLOCKS
      ) {
        add(
          await (
            await ledger.setSelectionTimeouts(SIM_REVEAL_TIMEOUT_BLOCKS, SIM_PRIMARY_WINDOW_BLOCKS)
          ).wait(),
        );
      }
    }
    return new AggregationLedgerAdapter(ledger, registry, l.address, domain, gas, admin);
  }

  /**
   * Consensus mode: records round `round`'s verified primary selection
   * (`recordPrimarySelection`, sent by `sender`). When a pre-selected node did not reveal, opens
   * the reveal window first and waits for its timeout (in blocks). Returns the gas used, or null if
   * the ledger refused it (no state change).
   */
  async recordSelection(
    sender: Signer,
    round: bigint,
    reveals: SelectionReveals,
    keys: readonly Uint8Array[],
  ): Promise<bigint | null> {
    const ledger = this.ledger.connect(sender) as AggregationLedger;
    const revealed = [...reveals.signatures.keys()].sort((a, b) => a - b);
    let revealers = 0n;
    for (const q of revealed) revealers |= 1n << BigInt(q);
    let gas = 0n;
    try {
      if (!reveals.complete) {
        const opened = await (await ledger.openPrimarySelection(round)).wait();
        gas += opened?.gasUsed ?? 0n;
        const [timeout] = await ledger.selectionTimeouts();
        await this.#advanceTo(BigInt(opened?.blockNumber ?? 0) + BigInt(timeout));
      }
      const receipt = await (
        await ledger.recordPrimarySelection(round, hex(packReputations(reveals.reputations)), {
          revealers,
          keys: hex(concatBytes(...revealed.map((q) => g1ToEip2537(keys[q])))),
          signatures: hex(
            concatBytes(...revealed.map((q) => g2ToEip2537(reveals.signatures.get(q)!))),
          ),
          gatewaySignature: hex(g2ToEip2537(reveals.gatewaySignature)),
        })
      ).wait();
      return gas + (receipt?.gasUsed ?? 0n);
    } catch (err) {
      const e = toChainError(err);
      if (e instanceof ContractRevertError) return null;
      throw e;
    }
  }

  /**
   * Consensus mode: the selection the ledger recorded for round `round` — the last
   * `PrimarySelectionRecorded(round)` at or before the round's `BlockCommitted` — as its
   * `recordPrimarySelection` transaction sent it: the vector it was over (unpacked, multiples of
   * 1e9 in 1e18 fixed point), the revealers' signatures (compressed G2, 96
   * bytes, by node index, from the event's `revealers` bitmap) and Θ. The ledger verified them
   * (`IReputationRegistry.selectedPrimary`), so every node reads the same selection order from
   * the chain instead of taking the committer's word for it (docs/CONSENSUS.md "Evidence order").
   * Null when none was recorded. Throws `ChainError` (chain/errors.ts) when the node cannot be
   * read, and `DeploymentMismatchError` when the recording transaction is not a direct
   * `recordPrimarySelection` call on this ledger (its calldata cannot be read).
   */
  async recordedSelection(round: bigint): Promise<RecordedSelection | null> {
    const provider = this.#admin.provider;
    if (!provider) throw new Error("AggregationLedgerAdapter: the admin signer needs a provider");
    const committed = await chainCall(() =>
      this.ledger.queryFilter(this.ledger.filters.BlockCommitted(round)),
    );
    const toBlock = committed.at(-1)?.blockNumber ?? "latest";
    const records = await chainCall(() =>
      this.ledger.queryFilter(this.ledger.filters.PrimarySelectionRecorded(round), 0, toBlock),
    );
    const record = records.at(-1);
    if (record === undefined) return null;
    const tx = await chainCall(() => provider.getTransaction(record.transactionHash));
    const call =
      tx && tx.to?.toLowerCase() === this.address.toLowerCase()
        ? this.ledger.interface.parseTransaction({ data: tx.data, value: tx.value })
        : null;
    if (call?.name !== "recordPrimarySelection") {
      throw new DeploymentMismatchError(
        `AggregationLedgerAdapter.recordedSelection: round ${round}'s selection was not recorded ` +
          `by a direct recordPrimarySelection call (${record.transactionHash})`,
      );
    }
    const reveals = call.args[2] as {
      revealers: bigint;
      signatures: string;
      gatewaySignature: string;
    };
    const revealers = BigInt(record.args.revealers);
    if (BigInt(reveals.revealers) !== revealers) {
      throw new DeploymentMismatchError(
        `AggregationLedgerAdapter.recordedSelection: round ${round}: event and calldata disagree`,
      );
    }
    const encoded = hexToBytes(reveals.signatures);
    const signatures = new Map<number, Uint8Array>();
    let at = 0;
    for (let q = 0; revealers >> BigInt(q) !== 0n; q++) {
      if (((revealers >> BigInt(q)) & 1n) === 0n) continue;
      signatures.set(q, eip2537ToG2(encoded.subarray(at, at + EIP2537_G2_LENGTH)));
      at += EIP2537_G2_LENGTH;
    }
    return {
      reputations: unpackReputations(hexToBytes(call.args[1] as string)),
      signatures,
      gatewaySignature: eip2537ToG2(hexToBytes(reveals.gatewaySignature)),
    };
  }

  /**
   * Consensus mode: the blocks left in the recorded selection's primary window for a block by
   * `primary` (0 when none is recorded, the window is over, or `primary` is the selected one).
   */
  async selectionWindowLeft(primary: number): Promise<bigint> {
    const [, selected, until, recorded] = await this.ledger.primarySelection();
    if (!recorded || Number(selected) === primary) return 0n;
    const provider = this.#admin.provider;
    if (!provider) return 0n;
    const next = BigInt(await provider.getBlockNumber()) + 1n;
    return until > next ? until - next : 0n;
  }

  /**
   * Waits until the next transaction lands in block ≥ `target`: on a dev chain that mines one block
   * per transaction (Hardhat), mines empty blocks (the time a view change takes); elsewhere
   * (Besu) polls while blocks pass.
   */
  async #advanceTo(target: bigint): Promise<void> {
    const provider = this.#admin.provider;
    if (!provider) throw new Error("AggregationLedgerAdapter: the admin signer needs a provider");
    for (let polls = 0; BigInt(await provider.getBlockNumber()) + 1n < target; polls++) {
      try {
        const rpc = provider as unknown as { send?: (m: string, p: unknown[]) => Promise<unknown> };
        if (typeof rpc.send !== "function") throw new Error("no JSON-RPC send");
        await rpc.send("evm_mine", []);
      } catch {
        if (polls > 600) throw new Error(`AggregationLedgerAdapter: block ${target} not reached`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Lets `blocks` more blocks pass (see {@link #advanceTo}). */
  async advanceBlocks(blocks: bigint): Promise<void> {
    const provider = this.#admin.provider;
    if (!provider) throw new Error("AggregationLedgerAdapter: the admin signer needs a provider");
    await this.#advanceTo(BigInt(await provider.getBlockNumber()) + 1n + blocks);
  }

  /**
   * Gateway mode: `recordRound`, the sum read back from the `RoundRecorded` event. Idempotent for
   * the same statement (the chain is the source of truth, DESIGN §3 "Persistence"): a gateway
   * killed after sending the transaction replays the same deterministic BLS statement from its
   * journal on restart. This first waits (at most {@link RECORD_SETTLE_MS}) for the gateway's
   * transactions still in the node's pool; if round `round` is then on the ledger under this exact
   * signature — mined before the restart, or while this call's own transaction was refused as a
   * repeat — it returns that record and its transaction's gas instead of failing. Any other
   * refusal (another statement for the round, a bad signature) propagates as the named
   * `ContractRevertError` (chain/errors.ts).
   */
  async recordRound(
    gateway: Signer,
    round: bigint,
    sum: bigint,
    reporters: number,
    signature: Uint8Array,
  ): Promise<RoundOnChain> {
    const ledger = this.ledger.connect(gateway) as AggregationLedger;
    const encoded = hex(g2ToEip2537(signature));
    // A transaction a killed gateway sent may still be in the node's pool: let it be mined first.
    await settled(gateway, RECORD_SETTLE_MS);
    const already = await this.#recordedAs(round, encoded);
    if (already) return already;
    try {
      const receipt = await mined(() => ledger.recordRound(round, sum, reporters, encoded));
      return { sum: this.#eventSum(receipt, "RoundRecorded", round), gasUsed: receipt.gasUsed };
    } catch (err) {
      const raced = await this.#recordedAs(round, encoded);
      if (raced) return raced;
      throw err;
    }
  }

  /**
   * Round `round` as the ledger holds it if it was recorded with exactly `encodedSignature`
   * (EIP-2537 G2, hex), with the gas of the transaction that recorded it; else undefined.
   */
  async #recordedAs(round: bigint, encodedSignature: string): Promise<RoundOnChain | undefined> {
    const record = await chainCall(() => this.ledger.roundRecord(round));
    if (record.gatewaySignatureHash !== keccak256(encodedSignature)) return undefined;
    const [event] = await chainCall(() =>
      this.ledger.queryFilter(this.ledger.filters.RoundRecorded(round)),
    );
    const receipt = event ? await chainCall(() => event.getTransactionReceipt()) : null;
    return { sum: BigInt(record.sum), gasUsed: receipt?.gasUsed ?? 0n };
  }

  /** Consensus mode: `commitBlock` by the submitting node; null if the ledger refuses it. */
  async commitBlock(
    submitter: Signer,
    block: ConsensusBlock,
    certificate: QuorumCertificate,
    keys: readonly Uint8Array[],
  ): Promise<RoundOnChain | null> {
    const args = commitBlockArgs(block, certificate, keys);
    const ledger = this.ledger.connect(submitter) as AggregationLedger;
    let receipt: ContractTransactionReceipt | null;
    try {
      receipt = await (await ledger.commitBlock(args.block, args.certificate)).wait();
    } catch (err) {
      // Refused by the contract (e.g. a second certificate for a committed round): no state
      // change. Anything else (node unreachable, nonce clash) is not a refusal and propagates.
      const e = toChainError(err);
      if (e instanceof ContractRevertError) return null;
      throw e;
    }
    if (!receipt) return null;
    return {
      sum: this.#eventSum(receipt, "BlockCommitted", block.round),
      gasUsed: receipt.gasUsed,
    };
  }

  /** New epoch's `S_g` (admin); returns the gas used. */
  #eventSum(receipt: ContractTransactionReceipt, event: string, round: bigint): bigint {
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const parsed = this.ledger.interface.parseLog(log);
      if (parsed?.name === event && BigInt(parsed.args.round) === round) {
        return BigInt(parsed.args.sum);
      }
    }
    throw new Error(
      `AggregationLedgerAdapter: no ${event} event for round ${round} in the receipt`,
    );
  }
}

// ---------------------------------------------------------------------------------------------

/** An existing BBNP deployment (`npx gridledger deploy`): the ledger, and its registry if bound. */
export interface BbnpDeployment {
  readonly ledger: string;
  readonly registry?: string;
}

/**
 * Attaches to an unused AggregationLedger (no round recorded) and, in consensus mode, the registry
 * bound to it (no members yet): installs this run's gateway key with `rotateGatewayKey` (the round
 * message does not include the key epoch, so the run's rounds verify under it). Throws
 * `DeploymentMismatchError` naming what differs.
 */
async function attachLedger(
  admin: Signer,
  attach: BbnpDeployment,
  consensus: boolean,
  gatewayKey: string,
  add: (r: ContractTransactionReceipt | null) => void,
): Promise<{
  address: string;
  abi: InterfaceAbi;
  registry?: { address: string; abi: InterfaceAbi };
}> {
  const provider = admin.provider!;
  const { abi } = readArtifact("ledger/AggregationLedger.sol", "AggregationLedger");
  const registryAbi = readArtifact("consensus/ReputationRegistry.sol", "ReputationRegistry").abi;
  if ((await chainCall(() => provider.getCode(attach.ledger))) === "0x") {
    throw new DeploymentMismatchError(`no AggregationLedger at ${attach.ledger} on this chain`);
  }
  const ledger = new Contract(
    attach.ledger,
    abi as InterfaceAbi,
    admin,
  ) as unknown as AggregationLedger;
  const [, any] = await chainCall(() => ledger.lastRound());
  if (any) {
    throw new DeploymentMismatchError(
      `the AggregationLedger at ${attach.ledger} already holds rounds (a previous run): attach a fresh deployment (npx gridledger deploy)`,
    );
  }
  let registry: { address: string; abi: InterfaceAbi } | undefined;
  const bound = await chainCall(() => ledger.registry());
  if (consensus) {
    if (bound === ZeroAddress) {
      throw new DeploymentMismatchError(
        `the AggregationLedger at ${attach.ledger} has no registry bound: consensus mode needs one`,
      );
    }
    if (attach.registry !== undefined && getAddress(attach.registry) !== getAddress(bound)) {
      throw new DeploymentMismatchError(
        `the AggregationLedger at ${attach.ledger} is bound to registry ${bound}, not ${attach.registry}`,
      );
    }
    const r = new Contract(
      bound,
      registryAbi as InterfaceAbi,
      admin,
    ) as unknown as ReputationRegistry;
    if ((await chainCall(() => r.nodeCount())) !== 0n) {
      throw new DeploymentMismatchError(
        `the registry at ${bound} already has members: attach a fresh deployment`,
      );
    }
    registry = { address: bound, abi: registryAbi as InterfaceAbi };
  } else if (bound !== ZeroAddress) {
    throw new DeploymentMismatchError(
      `the AggregationLedger at ${attach.ledger} is bound to a registry: its rounds are committed by consensus nodes (--consensus M)`,
    );
  }
  add(await mined(ledger.rotateGatewayKey(gatewayKey)));
  return { address: attach.ledger, abi: abi as InterfaceAbi, registry };
}

/**
 * The gateway's ledger client (`GatewayLedgerClient` of gateway/agent.ts) bound to the gateway's
 * own chain signer: `recordRound` (gateway mode, GATEWAY_ROLE) and the ledger's head digest (the
 * seed of a consensus round's primary selection, DESIGN §5.4).
 */
export function gatewayLedgerClient(adapter: AggregationLedgerAdapter, signer: Signer) {
  return {
    recordRound: (round: bigint, sum: bigint, reporters: number, signature: Uint8Array) =>
      adapter.recordRound(signer, round, sum, reporters, signature),
    headDigest: async (): Promise<Uint8Array> =>
      hexToBytes(await chainCall(() => adapter.ledger.headDigest())),
  };
}

/**
 * A consensus node's ledger client (`ConsensusLedgerClient` of consensus/agent.ts) bound to the
 * node's own chain signer; `keys` are the registry's BLS keys in registry order (48-byte
 * compressed). `recordSelection` and `commitBlock` resolve null when the ledger refuses (no state
 * change); other failures reject with the chain/errors.ts error.
 */
export function nodeLedgerClient(
  adapter: AggregationLedgerAdapter,
  signer: Signer,
  keys: readonly Uint8Array[],
) {
  return {
    recordSelection: (round: bigint, reveals: SelectionReveals) =>
      adapter.recordSelection(signer, round, reveals, keys),
    commitBlock: (block: ConsensusBlock, certificate: QuorumCertificate) =>
      adapter.commitBlock(signer, block, certificate, keys),
    selectionWindowLeft: (primary: number) => adapter.selectionWindowLeft(primary),
    recordedSelection: (round: bigint) => adapter.recordedSelection(round),
    headDigest: async (): Promise<Uint8Array> =>
      hexToBytes(await chainCall(() => adapter.ledger.headDigest())),
    advanceBlocks: (blocks: bigint) => adapter.advanceBlocks(blocks),
  };
}
