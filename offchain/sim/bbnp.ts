// BBNP end to end (DESIGN §4.7, §4.8, §5): a trusted authority, N smart meters, the gateway and the
// aggregation ledger, either written by the gateway itself ("gateway" mode: `recordRound` under
// GATEWAY_ROLE, no registry bound) or committed by M consensus nodes with a quorum certificate
// ("consensus" mode: RoundDriver + ReputationRegistry). Deterministic given the seed (timings
// aside); readings come from the synthetic household load model (offchain/sim/load-model.ts).
//
// One round t:
//   1. Every meter measures its interval's energy (Wh); a seeded fraction drops out (no report).
//   2. Reporting meters derive the per-epoch key material the round needs (DH points with new
//      neighbours; in the simulation through the TA's fixed-base shortcut, timed apart), then mask
//      and tag their readings.
//   3. The gateway checks tags (rejecting and naming bad reports), runs dropout recovery if users
//      are missing (neighbours reveal their masks with the missing users; the TA supplies Σ_D s_d),
//      unmasks Σ m_i and BLS-signs it with s_g for the ledger's domain.
//   4. The round goes on-chain; the runner reads the sum back from the chain's event and compares it
//      with its own ground truth: Σ readings of the meters whose genuine report reached the gateway.
//   5. After a recovery the epoch is burnt: the TA refreshes every key, the admin rotates the
//      ledger's gateway key to the new S_g, and the consensus nodes resynchronise from the chain's
//      committed blocks with the new key.
//
// Chain access is confined to `AggregationLedgerAdapter` below (ABI changes touch one place).
import {
  Contract,
  ContractFactory,
  ZeroAddress,
  getAddress,
  type ContractTransactionReceipt,
  type InterfaceAbi,
  type Signer,
} from "ethers";

import type { AggregationLedger, ReputationRegistry } from "../../types/ethers-contracts/index.ts";
import { BbnpUser } from "../bbnp-user/user.ts";
import {
  AggregationLedgerAdapter,
  type AggregationChainAccess,
  type BbnpDeployment,
} from "../chain/aggregation.ts";
import { DeploymentMismatchError, readArtifact } from "../chain/deploy.ts";
import { ContractRevertError, chainCall, toChainError } from "../chain/errors.ts";
import { concatBytes } from "../crypto/bytes.ts";
import { noteWrite } from "../chain/provider.ts";
import { mined } from "../chain/tx.ts";
import {
  bitmapIndices,
  commitBlockArgs,
  faultTolerance,
  type ConsensusBlock,
  type QuorumCertificate,
} from "../consensus/block.ts";
import { RoundDriver, type ChainPort, type SelectionReveals } from "../consensus/driver.ts";
import { BYZANTINE_BEHAVIOURS, type NodeBehaviour } from "../consensus/faults.ts";
import { ConsensusNode, type ConsensusCrypto, type ConsensusMessage } from "../consensus/node.ts";
import {
  blsProvePossession,
  blsPublicKey,
  blsSign,
  blsVerify,
  g1ToEip2537,
  g2ToEip2537,
} from "../crypto/bls.ts";
import { packReputations } from "../consensus/block.ts";
import { toHex0x } from "../crypto/bytes.ts";
import { BbnpGateway, type SignedRoundSum } from "../gateway/gateway.ts";
import {
  REJECTION_REASONS,
  RoundAbortedError,
  type AbortReason,
  type RejectionReason,
  type ReportRejection,
} from "../gateway/errors.ts";
import { aggregationDomain, bbnpSignRound } from "../protocol/aggregation.ts";
import { BBNP_ORDER, dhPointFromScalars, u256 } from "../protocol/bbnp/params.ts";
import type { RecoveryPlan } from "../protocol/bbnp/recovery.ts";
import type { BbnpReport } from "../protocol/bbnp/report.ts";
import { fromFixed18, initialReputationState, toFixed18 } from "../protocol/reputation.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { createRng } from "../runtime/rng.ts";
import { TrustedAuthority, type EpochKeys } from "../ta/authority.ts";
import { LoadModel } from "./load-model.ts";

export const BBNP_ATTACKS = ["forged-tag", "tampered", "replay"] as const;
/**
 * - `forged-tag`: an outsider injects a report in a victim's name (random C, random tag) before the
 *   victim's genuine one: rejected `bad-tag`, the genuine report is accepted.
 * - `tampered`: a man in the middle adds 1,000 Wh to the victim's masked value in transit (tag
 *   unchanged; the genuine report is lost): rejected `bad-tag`, the victim is recovered around as
 *   missing and its reading is not in the sum.
 * - `replay`: the victim's previous-round report is replayed (`wrong-round`) and its current report
 *   is sent twice (`duplicate`).
 */
export type BbnpAttackName = (typeof BBNP_ATTACKS)[number];

export { REJECTION_REASONS };

export interface BbnpScenario {
  readonly users: number;
  readonly rounds: number;
  readonly seed: string;
  readonly mode: "gateway" | "consensus";
  /** Attach to this unused deployment (`gridledger deploy`) instead of deploying contracts. */
  readonly deployment?: BbnpDeployment;
  /** Neighbour count h (even ≥ 2), default 8. */
  readonly neighbours?: number;
  /** Consensus nodes M (consensus mode), default 4. */
  readonly consensusNodes?: number;
  /** Faulty nodes among the M, at most ⌊(M − 1)/3⌋; default 0. */
  readonly faulty?: number;
  /** Behaviours of the faulty nodes (cycled); default: drawn from the seed. */
  readonly faultyBehaviours?: readonly NodeBehaviour[];
  /** Users not reporting per round: a fraction of N in [0, 1) (rounded), or an exact count. */
  readonly dropout?: number | { readonly count: number };
  /**
   * Dropouts during recovery: each user asked to reveal masks stays silent for the rest of the
   * round with this probability in [0, 1) (seeded), default 0. The gateway drops it and runs
   * another recovery pass (DESIGN §4.7).
   */
  readonly recoveryDropout?: number;
  /** Minimum counted reporters per round (TA parameters and ledger); default the TA's. */
  readonly minReporters?: number;
  /** Recovery passes before a clean abort; default the gateway's. */
  readonly maxRecoveryPasses?: number;
  readonly attack?: {
    readonly kind: BbnpAttackName;
    /** Round (1-based) of the attack; default 1 (2 for replay). */
    readonly round?: number;
    /** Victim user; default: a reporting user drawn from the seed. */
    readonly user?: number;
  };
  /** Interval length in seconds, default 900 (15-minute metering). */
  readonly intervalSeconds?: number;
  /** Unix time of round 1's start, default 2026-01-05T00:00:00Z. */
  readonly startTime?: number;
  /** Largest admissible reading per interval (Wh), default 1,000,000. */
  readonly maxReading?: bigint;
}

/** Accounts: admin (deploys, grants, rotates keys), the gateway, one per consensus node. */
export type BbnpChainAccess = AggregationChainAccess;

export interface BbnpRoundTimings {
  /** Users' per-epoch key material for this round's neighbours (not part of the round time). */
  readonly keyPrepMs: number;
  /** All reporting users' masking and tagging. */
  readonly usersMs: number;
  /** Gateway: open, tag checks, accumulation. */
  readonly gatewayMs: number;
  /** Recovery: every pass's plan, neighbours' reveals, their checks, the TA's correction. */
  readonly recoveryMs: number;
  /** Gateway: unmask + BLS signature. */
  readonly finalizeMs: number;
  /** On-chain: recordRound, or the consensus round (reveals, votes, certificate, commitBlock). */
  readonly chainMs: number;
  /** usersMs + gatewayMs + recoveryMs + finalizeMs + chainMs. */
  readonly roundMs: number;
}

export interface BbnpRoundSummary {
  readonly round: number;
  readonly epoch: number;
  readonly reporters: number;
  /**
   * Σ readings of the counted users: genuine report reached the gateway and the user answered
   * every reveal request (the runner's truth, from its own dropout draws).
   */
  readonly readingsSumWh: string;
  /** The gateway's signed sum ("" if the round aborted). */
  readonly gatewaySum: string;
  /** The sum in the ledger's event for this round ("" if the round aborted: nothing published). */
  readonly onChainSum: string;
  /** Committed with the right sum and reporter count. */
  readonly match: boolean;
  /** Why the round was aborted cleanly (DESIGN §4.7), if it was. */
  readonly aborted?: AbortReason;
  /** Users that did not report (dropouts, and an attack's lost report), ascending. */
  readonly missing: readonly number[];
  /** Users that reported and then stayed silent in recovery (dropped by the gateway), ascending. */
  readonly excluded: readonly number[];
  readonly dropouts: number;
  /** Recovery passes (0: nobody missing). */
  readonly passes: number;
  readonly revealedMasks: number;
  readonly rejected: Readonly<Record<RejectionReason, number>>;
  /** Every rejection, named. */
  readonly rejections: readonly { readonly userId: number; readonly reason: RejectionReason }[];
  readonly gasUsed: string;
  /** Consensus mode: the primary whose block was committed, and the view it was committed in. */
  readonly primary?: number;
  readonly view?: number;
  /** Consensus mode: the nodes whose votes are in the committed certificate. */
  readonly signers?: readonly number[];
  /**
   * Consensus mode: Γ per node (registry order) in the committed block, i.e. after the previous
   * round's evidence (round 1: the initial reputations); DESIGN §5.3.
   */
  readonly reputations?: readonly number[];
  readonly timings: BbnpRoundTimings;
}

export interface BbnpRunReport {
  readonly scenario: string;
  readonly seed: string;
  readonly mode: "gateway" | "consensus";
  readonly users: number;
  readonly rounds: number;
  readonly neighbours: number;
  readonly ledger: string;
  readonly consensus?: {
    readonly nodes: number;
    readonly faulty: readonly { readonly node: number; readonly behaviour: NodeBehaviour }[];
    readonly registry: string;
    /** Rounds whose primary selection was recorded on-chain (`recordPrimarySelection`). */
    readonly selectionsRecorded: number;
    /** Gas of the selection transactions (open + record) over the run. */
    readonly selectionGas: string;
  };
  readonly setup: {
    /** TA epoch-0 keys (N public keys). */
    readonly taKeysMs: number;
    /** The gateway's DH cache (N points, TA shortcut) and its construction. */
    readonly gatewayDhMs: number;
    readonly deployMs: number;
    readonly deployGas: string;
  };
  readonly perRound: readonly BbnpRoundSummary[];
  readonly totals: {
    readonly readingsSumWh: string;
    readonly onChainSum: string;
    readonly allMatch: boolean;
    readonly gasUsed: string;
    /** Rounds aborted cleanly (too few reporters, recovery passes exhausted). */
    readonly aborted: number;
    readonly rejected: Readonly<Record<RejectionReason, number>>;
    /** Median over rounds of roundMs. */
    readonly medianRoundMs: number;
    /** Median over rounds of gateway (aggregate + finalize) time per reporting user (µs). */
    readonly medianGatewayUsPerUser: number;
  };
  readonly attack?: {
    readonly kind: BbnpAttackName;
    readonly round: number;
    readonly victim: number;
    /** Every injected report was rejected with the expected reason, the victim named. */
    readonly detected: boolean;
    readonly rejections: readonly { readonly userId: number; readonly reason: RejectionReason }[];
    /** The attacked round's on-chain sum equals the honest sum. */
    readonly honestSum: boolean;
  };
  readonly wallTimeMs: number;
}

export interface BbnpHooks {
  /** Called as the run progresses. */
  readonly progress?: (message: string) => void;
  /** Counted progress: "users prepared" (restarts every round) and "rounds". */
  readonly step?: ProgressSink;
  /** Wall clock for the timings (injected; default a constant 0, i.e. no timings). */
  readonly now?: () => number;
}

export type { BbnpDeployment } from "../chain/aggregation.ts";

const DEFAULT_START = Date.UTC(2026, 0, 5) / 1000;

/** 0x-hex at the chain edge: the project's one helper. */
const hex = toHex0x;

function zeroRejections(): Record<RejectionReason, number> {
  return Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<
    RejectionReason,
    number
  >;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new RangeError(`runBbnp: ${message}`);
}

/** Real BLS for the consensus nodes, verification memoised (every node checks the same σ_GW). */
function memoisedBls(): ConsensusCrypto {
  const cache = new Map<string, boolean>();
  return {
    sign: blsSign,
    verify(pk, msg, sig) {
      const key = hex(pk) + hex(msg) + hex(sig);
      let v = cache.get(key);
      if (v === undefined) {
        v = blsVerify(pk, msg, sig);
        cache.set(key, v);
      }
      return v;
    },
  };
}

/** One epoch's parties: the users, the gateway and the DH cache behind the TA's shortcut. */
interface Epoch {
  readonly keys: EpochKeys;
  readonly users: BbnpUser[];
  readonly gateway: BbnpGateway;
  readonly dhCache: Map<number, Uint8Array>;
}

/** Runs a scenario on the given chain; deploys its own ledger (and registry). */
export async function runBbnp(
  scenario: BbnpScenario,
  chain: BbnpChainAccess,
  hooks: BbnpHooks = {},
): Promise<BbnpRunReport> {
  const now = hooks.now ?? (() => 0);
  const progress = hooks.progress ?? (() => {});
  const step = hooks.step ?? (() => {});
  const t0 = now();
  const n = scenario.users;
  const h = scenario.neighbours ?? 8;
  const mode = scenario.mode;
  const maxReading = scenario.maxReading ?? 1_000_000n;
  const intervalS = scenario.intervalSeconds ?? 900;
  const start = scenario.startTime ?? DEFAULT_START;
  check(Number.isInteger(n) && n >= 2 && n <= 1 << 20, "users must be an integer in [2, 2^20]");
  check(Number.isInteger(scenario.rounds) && scenario.rounds >= 1, "rounds must be an integer ≥ 1");
  check(mode === "gateway" || mode === "consensus", `unknown mode "${String(mode)}"`);
  check(Number.isInteger(h) && h >= 2 && h % 2 === 0, "neighbours must be an even integer ≥ 2");
  const dropoutCount = dropouts(scenario.dropout, n);
  const recoveryDropout = scenario.recoveryDropout ?? 0;
  check(
    Number.isFinite(recoveryDropout) && recoveryDropout >= 0 && recoveryDropout < 1,
    "recovery dropout fraction must be in [0, 1)",
  );
  const m = scenario.consensusNodes ?? 4;
  const faulty = scenario.faulty ?? 0;
  if (mode === "consensus") {
    check(Number.isInteger(m) && m >= 1 && m <= 0xffff, "consensusNodes must be an integer ≥ 1");
    check(
      Number.isInteger(faulty) && faulty >= 0 && faulty <= faultTolerance(m),
      `faulty must be an integer in [0, ${faultTolerance(m)}] for M = ${m} (f ≤ ⌊(M − 1)/3⌋)`,
    );
  }
  const attack = scenario.attack;
  let attackRound = 0;
  if (attack) {
    check(BBNP_ATTACKS.includes(attack.kind), `unknown attack "${attack.kind}"`);
    attackRound = attack.round ?? (attack.kind === "replay" ? 2 : 1);
    check(
      Number.isInteger(attackRound) && attackRound >= 1 && attackRound <= scenario.rounds,
      `attack round ${attackRound} is not a round of this run`,
    );
    check(
      attack.kind !== "replay" || attackRound >= 2,
      "a replay needs a previous round (round ≥ 2)",
    );
    check(
      attack.user === undefined ||
        (Number.isInteger(attack.user) && attack.user >= 0 && attack.user < n),
      `attack user must be in [0, ${n})`,
    );
    check(
      attack.kind !== "tampered" || dropoutCount + 1 < n,
      "the tampered report and the dropouts leave nobody reporting",
    );
  }

  const rng = createRng(`bbnp/${scenario.seed}`);
  const load = new LoadModel({ seed: `${scenario.seed}/load` });

  // ---- set-up (timed apart)
  let mark = now();
  const taRng = rng.fork("ta");
  const ta = new TrustedAuthority(
    { userCount: n, neighbours: h, maxReading, minReporters: scenario.minReporters },
    {
      randomScalar: () => taRng.nextBigInt(BBNP_ORDER - 1n) + 1n,
      randomBytes: (k) => taRng.bytes(k),
    },
  );
  const keys0 = ta.setup();
  const taKeysMs = now() - mark;
  progress(`set-up: TA keys for ${n} users, h = ${h} (${(taKeysMs / 1000).toFixed(1)} s)`);

  mark = now();
  // Consensus nodes (registry order), their initial reputations and faults.
  const nodeRng = rng.fork("nodes");
  const nodeSecretKeys =
    mode === "consensus"
      ? Array.from({ length: m }, () => nodeRng.nextBigInt(BBNP_ORDER - 1n) + 1n)
      : [];
  const initialFloats = nodeSecretKeys.map(() => 0.5 + nodeRng.nextInt(11) / 100);
  const faultyNodes = nodeRng
    .shuffle(Array.from({ length: nodeSecretKeys.length }, (_, j) => j))
    .slice(0, mode === "consensus" ? faulty : 0)
    .sort((a, b) => a - b)
    .map((node, k) => ({
      node,
      behaviour:
        scenario.faultyBehaviours && scenario.faultyBehaviours.length > 0
          ? scenario.faultyBehaviours[k % scenario.faultyBehaviours.length]
          : BYZANTINE_BEHAVIOURS[nodeRng.nextInt(BYZANTINE_BEHAVIOURS.length)],
    }));
  const adapter = await AggregationLedgerAdapter.deploy(
    chain,
    keys0.gatewaySecret,
    keys0.params.minReporters,
    mode === "consensus"
      ? { secretKeys: nodeSecretKeys, reputations: initialFloats.map(toFixed18) }
      : undefined,
    scenario.deployment,
  );
  const deployMs = now() - mark;
  const domain = adapter.domain;
  // Blocks carry the registry's membership epoch (one per applied node addition here).
  const membershipEpoch = adapter.registry ? Number(await adapter.registry.membershipEpoch()) : 0;
  progress(
    `${scenario.deployment ? "attached to" : "deployed"} AggregationLedger ${adapter.address}` +
      (adapter.registry ? ` with a ReputationRegistry of ${m} nodes` : " (gateway mode)") +
      (faultyNodes.length > 0
        ? `; faulty: ${faultyNodes.map((f) => `node ${f.node} ${f.behaviour}`).join(", ")}`
        : ""),
  );

  mark = now();
  const epoch = openEpoch(keys0, domain, ta, scenario.maxRecoveryPasses);
  const gatewayDhMs = now() - mark;
  progress(`set-up: gateway DH cache of ${n} points (${(gatewayDhMs / 1000).toFixed(1)} s)`);

  // ---- consensus nodes and driver (rebuilt with the new S_g after a key refresh)
  const crypto = memoisedBls();
  const nodeKeys = nodeSecretKeys.map(blsPublicKey);
  const behaviourOf = (j: number): NodeBehaviour =>
    faultyNodes.find((f) => f.node === j)?.behaviour ?? "honest";
  let roundGas = 0n;
  /** Gas of the selection transactions (open + record), the whole run. */
  let selectionGas = 0n;
  let selectionsRecorded = 0;
  let roundOnChainSum: bigint | undefined;
  const chainPort: ChainPort = {
    async submit(block, certificate, submitter) {
      const accounts = chain.nodes ?? [];
      let result = await adapter.commitBlock(accounts[submitter], block, certificate, nodeKeys);
      // A takeover primary (the selected one stalled): the chain accepts its block once the
      // selected primary's window is over; let those blocks pass and submit again.
      if (!result) {
        const left = await adapter.selectionWindowLeft(block.primary);
        if (left > 0n) {
          await adapter.advanceBlocks(left);
          result = await adapter.commitBlock(accounts[submitter], block, certificate, nodeKeys);
        }
      }
      if (!result) return false;
      roundGas += result.gasUsed;
      roundOnChainSum = result.sum;
      return true;
    },
    async recordSelection(round, reveals) {
      // Sent by the GW's account (anyone may: the reveals authenticate themselves).
      const gas = await adapter.recordSelection(chain.gateway, round, reveals, nodeKeys);
      if (gas === null) return false;
      selectionGas += gas;
      return true;
    },
  };
  // The nodes keep S_g for the whole run: a recovery no longer burns the key epoch.
  const buildConsensus = (gatewaySecret: bigint): RoundDriver => {
    const initialState = initialReputationState(initialFloats);
    const nodes = nodeSecretKeys.map(
      (sk, j) =>
        new ConsensusNode(
          {
            index: j,
            secretKey: sk,
            keys: nodeKeys,
            gatewayKey: blsPublicKey(gatewaySecret),
            domain,
            epoch: membershipEpoch,
            initialState,
            behaviour: behaviourOf(j),
            viewTimeoutMs: 1_000,
            collectWindowMs: 50,
          },
          { crypto },
        ),
    );
    const latencySeed = nodeRng.fork("latency").nextU32() % 997;
    return new RoundDriver(
      {
        gatewaySecretKey: gatewaySecret,
        domain,
        // Deterministic per-link delays of 5–24 ms.
        latency: (from, to) => 5 + ((from * 7 + to * 13 + latencySeed + 100) % 20),
        slowDelayMs: 400,
        roundDeadlineMs: 60_000,
      },
      { nodes, chain: chainPort, sign: crypto.sign, secretKeys: nodeSecretKeys },
    );
  };
  const driver = mode === "consensus" ? buildConsensus(keys0.gatewaySecret) : undefined;

  // ---- rounds
  const perRound: BbnpRoundSummary[] = [];
  const previousReports = new Map<number, BbnpReport>();
  let attackOutcome: BbnpRunReport["attack"];
  for (let r = 1; r <= scenario.rounds; r++) {
    const t = BigInt(r);
    const roundRng = rng.fork(`round/${r}`);
    const intervalStart = start + (r - 1) * intervalS;
    const noise = roundRng.fork("load");
    const readings = new Array<bigint>(n);
    for (let i = 0; i < n; i++) {
      const wh = load.consumptionWh(i, intervalStart, intervalS, noise);
      readings[i] = wh > maxReading ? maxReading : wh;
    }
    // Dropouts: a seeded sample of users send nothing this round.
    const absent = new Uint8Array(n);
    if (dropoutCount > 0) {
      const ids = roundRng.fork("dropout").shuffle(Array.from({ length: n }, (_, i) => i));
      for (let k = 0; k < dropoutCount; k++) absent[ids[k]] = 1;
    }
    let victim = -1;
    if (attack && r === attackRound) {
      victim = attack.user ?? -1;
      if (victim >= 0) absent[victim] = 0;
      else {
        const candidates: number[] = [];
        for (let i = 0; i < n; i++) if (!absent[i]) candidates.push(i);
        victim = candidates[roundRng.fork("attack").nextInt(candidates.length)];
      }
    }

    // Users: key material, then reports.
    mark = now();
    for (let i = 0; i < n; i++) {
      if (!absent[i]) epoch.users[i].prepare(t);
      step({ task: "users prepared", done: i + 1, total: n });
    }
    const keyPrepMs = now() - mark;
    mark = now();
    const genuine: BbnpReport[] = [];
    for (let i = 0; i < n; i++) if (!absent[i]) genuine.push(epoch.users[i].report(t, readings[i]));
    const usersMs = now() - mark;

    // The network between users and gateway, with the adversary if any.
    let inbound: BbnpReport[] = genuine;
    const reachedGateway = new Uint8Array(n);
    for (const g of genuine) reachedGateway[g.userId] = 1;
    let expectedRejections: { userId: number; reason: RejectionReason }[] = [];
    if (victim >= 0 && attack) {
      const mine = genuine.find((g) => g.userId === victim) as BbnpReport;
      const others = genuine.filter((g) => g.userId !== victim);
      const advRng = roundRng.fork("adversary");
      if (attack.kind === "forged-tag") {
        const forged: BbnpReport = {
          userId: victim,
          round: t,
          masked: u256(advRng.nextBigInt(BBNP_ORDER)),
          tag: advRng.bytes(32),
        };
        inbound = [forged, ...others, mine];
        expectedRejections = [{ userId: victim, reason: "bad-tag" }];
      } else if (attack.kind === "tampered") {
        const c = BigInt(hex(mine.masked));
        const altered: BbnpReport = { ...mine, masked: u256((c + 1_000n) % BBNP_ORDER) };
        inbound = [...others, altered];
        reachedGateway[victim] = 0;
        expectedRejections = [{ userId: victim, reason: "bad-tag" }];
      } else {
        const old = previousReports.get(victim);
        if (!old)
          throw new Error(`runBbnp: user ${victim} has no report of round ${r - 1} to replay`);
        inbound = [old, ...others, mine, mine];
        expectedRejections = [
          { userId: victim, reason: "wrong-round" },
          { userId: victim, reason: "duplicate" },
        ];
      }
    }
    previousReports.clear();
    for (const g of genuine) previousReports.set(g.userId, g);

    // Dropouts during recovery: drawn once per round for every user (silent if ever asked).
    const silentInRecovery = new Uint8Array(n);
    if (recoveryDropout > 0) {
      const silentRng = roundRng.fork("recovery-dropout");
      for (let i = 0; i < n; i++)
        silentInRecovery[i] = silentRng.nextFloat() < recoveryDropout ? 1 : 0;
    }

    // Gateway.
    const roundEpoch = epoch.keys.params.epoch;
    const gw = epoch.gateway;
    mark = now();
    gw.openRound(t);
    const rejections = gw.submitBatch(inbound);
    const gatewayMs = now() - mark;
    mark = now();
    let correction: bigint | undefined;
    let revealedMasks = 0;
    let aborted: AbortReason | undefined;
    // Users the runner made silent when asked (its own record, to check the gateway's).
    const silenced = new Uint8Array(n);
    try {
      if (gw.missing.length > 0) {
        let plan: RecoveryPlan | undefined = gw.beginRecovery();
        while (plan) {
          for (const [i, peers] of plan.requests) {
            if (silentInRecovery[i]) {
              silenced[i] = 1;
              continue;
            }
            for (const reveal of epoch.users[i].revealMasks(t, peers)) {
              gw.acceptReveal(reveal);
              revealedMasks++;
            }
          }
          plan = gw.closeRecoveryPass();
        }
        // Only now, with the round able to complete, is the TA asked (round t's β only).
        correction = ta.dropoutCorrection(epoch.keys.params.epoch, t, gw.dropped);
      }
    } catch (err) {
      if (!(err instanceof RoundAbortedError)) throw err;
      aborted = err.reason;
    }
    const recoveryMs = now() - mark;

    // Ground truth: Σ readings of the users whose genuine report reached the gateway and who
    // answered every reveal request they got.
    let truth = 0n;
    let reporters = 0;
    const missing: number[] = [];
    const excludedByRunner: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!reachedGateway[i]) missing.push(i);
      else if (silenced[i]) excludedByRunner.push(i);
      else {
        truth += readings[i];
        reporters++;
      }
    }
    mark = now();
    const signed: SignedRoundSum | undefined =
      aborted === undefined ? gw.finalize(correction) : undefined;
    const finalizeMs = now() - mark;
    if (signed && signed.excluded.join(",") !== excludedByRunner.join(",")) {
      throw new Error(`runBbnp: round ${r}: the gateway's excluded set differs from the runner's`);
    }
    if (
      signed &&
      signed.missing.join(",") !== [...missing, ...excludedByRunner].sort((a, b) => a - b).join(",")
    ) {
      throw new Error(`runBbnp: round ${r}: the gateway's missing set differs from the runner's`);
    }

    // Chain.
    mark = now();
    let onChain: bigint | undefined;
    let gasUsed = 0n;
    let primary: number | undefined;
    let view: number | undefined;
    let signers: number[] | undefined;
    let reputations: number[] | undefined;
    if (!signed) {
      // Aborted cleanly: nothing to publish.
    } else if (mode === "gateway") {
      const rec = await adapter.recordRound(
        chain.gateway,
        t,
        signed.sum,
        signed.reporters,
        signed.signature,
      );
      onChain = rec.sum;
      gasUsed = rec.gasUsed;
    } else {
      roundGas = 0n;
      roundOnChainSum = undefined;
      const outcome = await (driver as RoundDriver).runRound(t, signed.sum, signed.reporters);
      if (outcome.selectionRecorded) selectionsRecorded++;
      if (!outcome.committed || roundOnChainSum === undefined) {
        throw new Error(`runBbnp: round ${r}: the consensus nodes committed no block`);
      }
      const sigOk = hex(outcome.committed.block.gatewaySignature) === hex(signed.signature);
      if (!sigOk) throw new Error(`runBbnp: round ${r}: committed σ_GW differs from the gateway's`);
      onChain = roundOnChainSum;
      gasUsed = roundGas;
      primary = outcome.committed.block.primary;
      view = outcome.viewOfCommit;
      signers = bitmapIndices(outcome.committed.certificate.signers);
      reputations = outcome.committed.block.reputations.map(fromFixed18);
    }
    const chainMs = now() - mark;

    const rejected = gw.rejectionCounts;
    const named = rejections.map((x: ReportRejection) => ({ userId: x.userId, reason: x.reason }));
    const summary: BbnpRoundSummary = {
      round: r,
      epoch: roundEpoch,
      reporters,
      readingsSumWh: truth.toString(),
      gatewaySum: signed ? signed.sum.toString() : "",
      onChainSum: onChain === undefined ? "" : onChain.toString(),
      match:
        signed !== undefined &&
        onChain === truth &&
        signed.sum === truth &&
        signed.reporters === reporters,
      ...(aborted === undefined ? {} : { aborted }),
      missing,
      excluded: excludedByRunner,
      dropouts: dropoutCount,
      passes: signed?.passes ?? 0,
      revealedMasks,
      rejected,
      rejections: named,
      gasUsed: gasUsed.toString(),
      ...(primary === undefined ? {} : { primary, view, signers, reputations }),
      timings: {
        keyPrepMs,
        usersMs,
        gatewayMs,
        recoveryMs,
        finalizeMs,
        chainMs,
        roundMs: usersMs + gatewayMs + recoveryMs + finalizeMs + chainMs,
      },
    };
    perRound.push(summary);
    if (victim >= 0 && attack) {
      const detected =
        named.length === expectedRejections.length &&
        named.every(
          (x, k) =>
            x.userId === expectedRejections[k].userId && x.reason === expectedRejections[k].reason,
        );
      attackOutcome = {
        kind: attack.kind,
        round: r,
        victim,
        detected,
        rejections: named,
        honestSum: summary.match,
      };
    }
    progress(
      `round ${r}/${scenario.rounds}: ${reporters}/${n} counted` +
        (excludedByRunner.length > 0 ? ` (${excludedByRunner.length} silent in recovery)` : "") +
        (aborted !== undefined
          ? `, ABORTED (${aborted}): nothing published`
          : `, Σ ${truth} Wh, on-chain ${onChain} ${summary.match ? "✓" : "✗ MISMATCH"}, gas ${gasUsed}`) +
        (primary === undefined ? "" : `, primary ${primary}`) +
        (signed && signed.passes > 1 ? `, ${signed.passes} recovery passes` : "") +
        (rejections.length > 0 ? `, rejected ${rejections.length}` : ""),
    );
    step({ task: "rounds", done: r, total: scenario.rounds });
  }

  const sumOf = (f: (s: BbnpRoundSummary) => string) =>
    perRound.reduce((a, s) => a + BigInt(f(s) || "0"), 0n).toString();
  const rejectedTotal = zeroRejections();
  for (const s of perRound) for (const k of REJECTION_REASONS) rejectedTotal[k] += s.rejected[k];
  return {
    scenario: `BBNP ${mode} mode: ${n} users, ${scenario.rounds} rounds`,
    seed: scenario.seed,
    mode,
    users: n,
    rounds: scenario.rounds,
    neighbours: h,
    ledger: adapter.address,
    ...(adapter.registry
      ? {
          consensus: {
            nodes: m,
            faulty: faultyNodes,
            registry: await adapter.registry.getAddress(),
            selectionsRecorded,
            selectionGas: selectionGas.toString(),
          },
        }
      : {}),
    setup: { taKeysMs, gatewayDhMs, deployMs, deployGas: adapter.deployGas.toString() },
    perRound,
    totals: {
      readingsSumWh: sumOf((s) => s.readingsSumWh),
      onChainSum: sumOf((s) => s.onChainSum),
      allMatch: perRound.every((s) => s.match),
      gasUsed: sumOf((s) => s.gasUsed),
      aborted: perRound.filter((s) => s.aborted !== undefined).length,
      rejected: rejectedTotal,
      medianRoundMs: median(perRound.map((s) => s.timings.roundMs)),
      medianGatewayUsPerUser: median(
        perRound.map(
          (s) => ((s.timings.gatewayMs + s.timings.finalizeMs) * 1000) / Math.max(1, s.reporters),
        ),
      ),
    },
    ...(attackOutcome ? { attack: attackOutcome } : {}),
    wallTimeMs: now() - t0,
  };
}

/** Users, gateway and the DH cache of one epoch (the TA's fixed-base shortcut: same points). */
function openEpoch(
  keys: EpochKeys,
  domain: Uint8Array,
  ta: TrustedAuthority,
  maxRecoveryPasses: number | undefined,
): Epoch {
  const s = keys.userSecrets;
  const n = s.length;
  // Pairwise DH points by pair (a < b): a·N + b fits a float64 exactly for N ≤ 2^20.
  const dhCache = new Map<number, Uint8Array>();
  const dh = (a: number, b: number): Uint8Array => {
    const key = a < b ? a * n + b : b * n + a;
    let p = dhCache.get(key);
    if (!p) {
      p = dhPointFromScalars(s[a], s[b]);
      dhCache.set(key, p);
    }
    return p;
  };
  const gatewayDh = s.map((si) => dhPointFromScalars(si, keys.gatewaySecret));
  const users = s.map(
    (secret, i) =>
      new BbnpUser(
        { params: keys.params, userId: i, secret },
        { dhPoint: (peer) => (peer === "gateway" ? gatewayDh[i] : dh(i, peer)) },
      ),
  );
  const gatewaySecret = keys.gatewaySecret;
  const gateway = new BbnpGateway(
    { params: keys.params, secret: gatewaySecret, dhPoints: gatewayDh, maxRecoveryPasses },
    {
      signRound: (round, sum, reporters) =>
        bbnpSignRound(gatewaySecret, domain, round, sum, reporters),
      // β_g(t) from the TA (in deployment fetched ahead for a window of rounds).
      roundBlinding: (round) => ta.gatewayBlinding(keys.params.epoch, round),
    },
  );
  return { keys, users, gateway, dhCache };
}

/** Users dropping out per round: a fraction of N (rounded) or an exact count, < N. */
function dropouts(spec: BbnpScenario["dropout"], n: number): number {
  if (spec === undefined) return 0;
  if (typeof spec === "number") {
    check(Number.isFinite(spec) && spec >= 0 && spec < 1, "dropout fraction must be in [0, 1)");
    const count = Math.round(spec * n);
    check(count < n, "dropout leaves nobody reporting");
    return count;
  }
  check(
    Number.isInteger(spec.count) && spec.count >= 0 && spec.count < n,
    `dropout count must be an integer in [0, ${n - 1}]`,
  );
  return spec.count;
}
