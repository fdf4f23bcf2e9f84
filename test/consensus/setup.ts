// Shared set-up of consensus tests (exports only; no tests here).
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import { equalBytes } from "../../offchain/crypto/bytes.ts";
import { BLS_R, blsPublicKey, blsSign, blsVerify } from "../../offchain/crypto/bls.ts";
import {
  blockDigest,
  verifyCertificate,
  type ConsensusBlock,
  type QuorumCertificate,
} from "../../offchain/consensus/block.ts";
import {
  RoundDriver,
  type ChainPort,
  type GatewayPort,
  type GatewayStatement,
} from "../../offchain/consensus/driver.ts";
import type { NodeBehaviour } from "../../offchain/consensus/faults.ts";
import { ConsensusNode, type ConsensusCrypto } from "../../offchain/consensus/node.ts";
import { bbnpSignRound, bbnpVerifyRound } from "../../offchain/protocol/aggregation.ts";
import { roundRandomMessage } from "../../offchain/protocol/primary-selection.ts";
import { initialReputationState } from "../../offchain/protocol/reputation.ts";

export const GATEWAY_SK = 0x5eed_6a7e_3a7en;

/**
 * The test's gateway: the only holder of its key `sk` here (the driver never sees it). `statement`
 * is its signed (t, Σ, |R|, σ_GW); `port` gives Θ for the reveal phase.
 */
export function testGateway(sk: bigint, domain: Uint8Array) {
  const port: GatewayPort = {
    selectionSignature: (round, seed) => blsSign(sk, roundRandomMessage(domain, round, seed)),
  };
  const statement = (round: bigint, sum: bigint, reporters: number): GatewayStatement => ({
    round,
    sum,
    reporters,
    gatewaySignature: bbnpSignRound(sk, domain, round, sum, reporters),
  });
  return { port, statement };
}

/** Deterministic node secret keys. */
export function nodeSecretKeys(m: number, label = "cn"): bigint[] {
  return Array.from(
    { length: m },
    (_, j) => BigInt("0x" + bytesToHex(sha256(new TextEncoder().encode(`${label}/${j}`)))) % BLS_R,
  );
}

/** Real BLS, with verification memoised (many nodes check the same GW signature). */
export function memoCrypto(): ConsensusCrypto {
  const cache = new Map<string, boolean>();
  return {
    sign: blsSign,
    verify(pk, msg, sig) {
      const key = bytesToHex(pk) + bytesToHex(msg) + bytesToHex(sig);
      let v = cache.get(key);
      if (v === undefined) {
        v = blsVerify(pk, msg, sig);
        cache.set(key, v);
      }
      return v;
    },
  };
}

/** Initial reputations: 0.5 + small per-node differences, so selection is not all ties. */
export function initialFloats(m: number): number[] {
  return Array.from({ length: m }, (_, j) => 0.5 + ((j * 37) % 11) / 100);
}

/** An in-memory chain with the ledger's checks (round, head, GW signature, certificate). */
export class MemoryChain implements ChainPort {
  readonly blocks: { block: ConsensusBlock; certificate: QuorumCertificate; digest: Uint8Array }[] =
    [];
  private readonly keys: readonly Uint8Array[];
  private readonly domain: Uint8Array;
  private readonly gatewayPk: Uint8Array;
  constructor(keys: readonly Uint8Array[], domain: Uint8Array, gatewayPk: Uint8Array) {
    this.keys = keys;
    this.domain = domain;
    this.gatewayPk = gatewayPk;
  }
  async submit(block: ConsensusBlock, certificate: QuorumCertificate, submitter: number) {
    const last = this.blocks.at(-1);
    if (last !== undefined && block.round <= last.block.round) return false;
    if (!equalBytes(block.previousDigest, last?.digest ?? new Uint8Array(32))) return false;
    if (submitter !== block.primary) return false;
    if (
      !bbnpVerifyRound(
        this.gatewayPk,
        this.domain,
        block.round,
        block.sum,
        block.reporters,
        block.gatewaySignature,
      )
    )
      return false;
    const digest = blockDigest(this.domain, block);
    if (!verifyCertificate(this.keys, digest, certificate)) return false;
    this.blocks.push({ block, certificate, digest });
    return true;
  }
}

export function makeNetwork(opts: {
  m: number;
  behaviours: readonly NodeBehaviour[];
  domain: Uint8Array;
  chain?: (keys: Uint8Array[]) => ChainPort;
  viewTimeoutMs?: number;
  /** The registry's membership epoch (0 for the in-memory chain). */
  epoch?: number;
  /** Initial reputations as floats (default {@link initialFloats}). */
  initialFloats?: readonly number[];
  /** Node secret keys (default {@link nodeSecretKeys}(m)). */
  sks?: readonly bigint[];
}) {
  const { m, domain } = opts;
  const sks = [...(opts.sks ?? nodeSecretKeys(m))];
  const keys = sks.map(blsPublicKey);
  const crypto = memoCrypto();
  const initialState = initialReputationState([...(opts.initialFloats ?? initialFloats(m))]);
  const nodes = sks.map(
    (sk, j) =>
      new ConsensusNode(
        {
          index: j,
          secretKey: sk,
          keys,
          gatewayKey: blsPublicKey(GATEWAY_SK),
          domain,
          epoch: opts.epoch ?? 0,
          initialState,
          behaviour: opts.behaviours[j],
          viewTimeoutMs: opts.viewTimeoutMs ?? 1_000,
          collectWindowMs: 50,
        },
        { crypto },
      ),
  );
  const memory = new MemoryChain(keys, domain, blsPublicKey(GATEWAY_SK));
  const chain = opts.chain ? opts.chain(keys) : memory;
  const gateway = testGateway(GATEWAY_SK, domain);
  const driver = new RoundDriver(
    {
      // Deterministic jitter: 5–24 ms per link.
      latency: (from, to) => 5 + ((from * 7 + to * 13 + 100) % 20),
      slowDelayMs: 400,
      roundDeadlineMs: 60_000,
    },
    { nodes, chain, gateway: gateway.port },
  );
  /** Round t on the gateway's statement for (sum, reporters). */
  const runRound = (round: bigint, sum: bigint, reporters: number) =>
    driver.runRound(gateway.statement(round, sum, reporters));
  return { sks, keys, nodes, driver, memory, chain, gateway, runRound };
}
