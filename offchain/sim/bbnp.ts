// BBNP end to end (DESIGN §4.7, §4.8, §5) as one wiring of the real agents over the in-memory
// network and a virtual clock (issue 11: "offchain/sim/ only wires agents and measures"): the
// trusted authority (an offline set-up tool: it writes each role's key material), N BBNP user agents
// (offchain/bbnp-user/agent.ts), the gateway agent (offchain/gateway/agent.ts) and, in consensus
// mode, M consensus-node agents (offchain/consensus/agent.ts), each holding only its own secrets and
// its own chain account. The ledger is written either by the gateway itself ("gateway" mode:
// `recordRound` under GATEWAY_ROLE, no registry bound) or by the primary consensus node with a
// quorum certificate ("consensus" mode: ReputationRegistry). Faults and attacks are the adversary
// wrappers of offchain/adversary/bbnp.ts around the agents' transports. Deterministic given the
// seed (timings aside); readings come from the synthetic household load model.
//
// One round t (1-based), driven by the gateway agent:
//   1. the gateway announces round t; every user reads its interval's energy (Wh) and sends its
//      masked, tagged report; a seeded fraction drops out (the `droppingUser` wrapper);
//   2. the gateway checks tags (rejecting and naming bad reports), runs the recovery passes if
//      users are missing (neighbours reveal their masks; `silentInRecovery` users stay silent), asks
//      the TA's round-t correction, unmasks Σ m_i and BLS-signs it with its own s_g;
//   3. the round goes on-chain: `recordRound` by the gateway, or the consensus round over the wire
//      (reveal phase, proposals, votes, the primary's `commitBlock`);
//   4. the runner compares the chain's sum (read back from the event at the chain edge) with its
//      own ground truth: Σ readings of the users whose genuine report reached the gateway and who
//      answered every reveal request.
// Virtual time moves only while no chain call is in flight, so the chain's latency never fires a
// protocol timeout. Chain access: offchain/chain/aggregation.ts (the runner is a composition root).
import {
  BBNP_ATTACKS,
  attackRecord,
  byzantineNode,
  crashedNode,
  droppingUser,
  reportAttacker,
  silentInRecovery,
  slowNode,
  type BbnpAttackName,
} from "../adversary/bbnp.ts";
import { BbnpUserAgent } from "../bbnp-user/agent.ts";
import {
  AggregationLedgerAdapter,
  gatewayLedgerClient,
  nodeLedgerClient,
  type AggregationChainAccess,
  type BbnpDeployment,
} from "../chain/aggregation.ts";
import { ConsensusNodeAgent } from "../consensus/agent.ts";
import { bitmapIndices, faultTolerance } from "../consensus/block.ts";
import { BYZANTINE_BEHAVIOURS, type NodeBehaviour } from "../consensus/faults.ts";
import type { ConsensusCrypto } from "../consensus/node.ts";
import { blsPublicKey, blsSign, blsVerify } from "../crypto/bls.ts";
import { toHex0x } from "../crypto/bytes.ts";
import { GatewayAgent } from "../gateway/agent.ts";
import {
  REJECTION_REASONS,
  type AbortReason,
  type RejectionReason,
  type ReportRejection,
} from "../gateway/errors.ts";
import { BBNP_ORDER, dhPointFromScalars } from "../protocol/bbnp/params.ts";
import { fromFixed18, initialReputationState, toFixed18 } from "../protocol/reputation.ts";
import { VirtualClock } from "../runtime/clock.ts";
import { MemoryNetwork, type Transport } from "../runtime/network.ts";
import type { ProgressSink } from "../runtime/progress.ts";
import { createRng } from "../runtime/rng.ts";
import { TrustedAuthority } from "../ta/authority.ts";
import { LoadModel } from "./load-model.ts";
import { counted } from "../runtime/log.ts";

export { BBNP_ATTACKS, type BbnpAttackName, type BbnpDeployment };
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

  // ---- set-up: the trusted authority, offline (timed apart)
  let mark = now();
  const taRng = rng.fork("ta");
  const ta = new TrustedAuthority(
    { userCount: n, neighbours: h, maxReading, minReporters: scenario.minReporters },
    {
      randomScalar: () => taRng.nextBigInt(BBNP_ORDER - 1n) + 1n,
      randomBytes: (k) => taRng.bytes(k),
    },
  );
  const keys = ta.setup();
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
    keys.params.gatewayPublicKey,
    keys.params.minReporters,
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

  // The TA's fixed-base shortcut for the DH points (set-up work, timed apart): the gateway's N
  // points, and each user's points with its neighbours, cached by pair. Each agent gets only the
  // points it could compute itself from its own secret.
  mark = now();
  const s = keys.userSecrets;
  const dhCache = new Map<number, Uint8Array>();
  const pairPoint = (a: number, b: number): Uint8Array => {
    const key = a < b ? a * n + b : b * n + a;
    let point = dhCache.get(key);
    if (!point) {
      point = dhPointFromScalars(s[a], s[b]);
      dhCache.set(key, point);
    }
    return point;
  };
  const gatewayDh = s.map((si) => dhPointFromScalars(si, keys.gatewaySecret));
  const gatewayDhMs = now() - mark;
  progress(`set-up: gateway DH cache of ${n} points (${(gatewayDhMs / 1000).toFixed(1)} s)`);

  // ---- the network, the clock and the chain calls in flight
  const clock = new VirtualClock({ startMs: 0 });
  const network = new MemoryNetwork(
    // Per-link one-way delays of 5–24 ms.
    { latency: { baseMs: 5, jitterMs: 19 } },
    { clock, rng: rng.fork("network") },
  );
  const inFlight = new InFlight();

  // ---- per-round inputs the runner controls (readings, dropouts, silences, the attack)
  let readings: bigint[] = [];
  let absent = new Uint8Array(n);
  let silentInRecoveryDraw = new Uint8Array(n);
  let silenced = new Uint8Array(n);
  let currentRound = 0n;

  // ---- users: one agent each, behind the adversary's wrappers
  const attackRng = rng.fork("adversary");
  const attacked = attackRecord();
  let attackVictim = -1;
  const users: BbnpUserAgent[] = [];
  for (let i = 0; i < n; i++) {
    let transport: Transport = network.endpoint(`bbnp-user-${i}`);
    transport = droppingUser(transport, (round) => round === currentRound && absent[i] === 1);
    if (recoveryDropout > 0) {
      transport = silentInRecovery(
        transport,
        (round) => round === currentRound && silentInRecoveryDraw[i] === 1,
        () => (silenced[i] = 1),
      );
    }
    if (attack) {
      transport = reportAttacker(
        transport,
        { kind: attack.kind, round: BigInt(attackRound), active: () => attackVictim === i },
        attackRng,
        attacked,
      );
    }
    users.push(
      new BbnpUserAgent(
        { params: keys.params, userId: i, secret: s[i] },
        {
          transport,
          reading: () => readings[i],
          dhPoint: (peer) => (peer === "gateway" ? gatewayDh[i] : pairPoint(i, peer)),
          stopwatch: now,
        },
      ),
    );
  }

  // ---- gateway
  const gatewayClient = inFlight.track(gatewayLedgerClient(adapter, chain.gateway));
  const taEpoch = keys.params.epoch;
  const gateway = new GatewayAgent(
    {
      params: keys.params,
      secret: keys.gatewaySecret,
      domain,
      mode,
      dhPoints: gatewayDh,
      maxRecoveryPasses: scenario.maxRecoveryPasses,
      nodes: nodeSecretKeys.map((_, j) => `node-${j}`),
      nodeKeys: nodeSecretKeys.map(blsPublicKey),
      windowMs: 1_000,
      revealWindowMs: 1_000,
      commitTimeoutMs: 60_000,
    },
    {
      transport: network.endpoint("gateway"),
      clock,
      ledger: gatewayClient,
      // β_g(t) and, after a recovery, the round-t correction (in-process here; see docs/BBNP.md).
      ta: {
        blinding: (round) => ta.gatewayBlinding(taEpoch, round),
        correction: (round, dropped) => ta.dropoutCorrection(taEpoch, round, dropped),
      },
      stopwatch: now,
    },
  );

  // ---- consensus nodes: each its own key, its own chain account, behind the adversary's wrappers
  const crypto = memoisedBls();
  const nodeKeys = nodeSecretKeys.map(blsPublicKey);
  const behaviourOf = (j: number): NodeBehaviour =>
    faultyNodes.find((f) => f.node === j)?.behaviour ?? "honest";
  /** Measured at the chain edge: per round, the accepted commit's sum and gas. */
  const commitsByRound = new Map<bigint, { sum: bigint; gasUsed: bigint }>();
  let selectionGas = 0n;
  let selectionsRecorded = 0;
  const nodeAgents: { start(): Promise<void>; stop(): Promise<void> }[] = [];
  const liveNodes: ConsensusNodeAgent[] = [];
  if (mode === "consensus") {
    const accounts = chain.nodes ?? [];
    const initialState = initialReputationState(initialFloats);
    for (let j = 0; j < m; j++) {
      const behaviour = behaviourOf(j);
      let transport: Transport = network.endpoint(`node-${j}`);
      if (behaviour === "crashed") {
        nodeAgents.push(crashedNode(j));
        continue;
      }
      if (behaviour === "slow") transport = slowNode(transport, clock, 400);
      const client = nodeLedgerClient(adapter, accounts[j], nodeKeys);
      const measured: typeof client = {
        ...client,
        async recordSelection(round, reveals) {
          const gas = await client.recordSelection(round, reveals);
          if (gas !== null) {
            selectionsRecorded++;
            selectionGas += gas;
          }
          return gas;
        },
        async commitBlock(block, certificate) {
          const result = await client.commitBlock(block, certificate);
          if (result) commitsByRound.set(block.round, result);
          return result;
        },
      };
      const init = {
        index: j,
        secretKey: nodeSecretKeys[j],
        keys: nodeKeys,
        gatewayKey: keys.params.gatewayPublicKey,
        domain,
        epoch: membershipEpoch,
        initialState,
        viewTimeoutMs: 1_000,
        collectWindowMs: 50,
        revealTimeoutMs: 200,
      };
      const agent = new ConsensusNodeAgent(init, {
        transport,
        clock,
        ledger: inFlight.track(measured),
        crypto,
        node:
          behaviour === "honest" || behaviour === "slow"
            ? undefined
            : byzantineNode(init, behaviour, crypto),
      });
      nodeAgents.push(agent);
      liveNodes.push(agent);
    }
  }
  await gateway.start();
  for (const u of users) await u.start();
  for (const a of nodeAgents) await a.start();

  /** Runs `work` while moving virtual time whenever no chain call is in flight. */
  const drive = async <T>(work: Promise<T>): Promise<T> => {
    let settled = false;
    let value: T | undefined;
    let failure: unknown;
    work.then(
      (v) => {
        settled = true;
        value = v;
      },
      (e: unknown) => {
        settled = true;
        failure = e;
      },
    );
    let idle = 0;
    for (;;) {
      await settle();
      const nodeFailure = liveNodes.find((a) => a.failures.length > 0);
      if (nodeFailure) throw nodeFailure.failures[0];
      if (settled) break;
      if (inFlight.count > 0) continue;
      const next = clock.nextDueMs;
      if (next === undefined) {
        if (++idle > 10) throw new Error("runBbnp: the agents are stuck (no timer, no chain call)");
        continue;
      }
      idle = 0;
      clock.advanceTo(next);
    }
    if (failure !== undefined) throw failure;
    return value as T;
  };

  // ---- rounds
  const perRound: BbnpRoundSummary[] = [];
  let attackOutcome: BbnpRunReport["attack"];
  let previousAbsent = new Uint8Array(n);
  for (let r = 1; r <= scenario.rounds; r++) {
    const t = BigInt(r);
    const roundRng = rng.fork(`round/${r}`);
    const intervalStart = start + (r - 1) * intervalS;
    const noise = roundRng.fork("load");
    readings = new Array<bigint>(n);
    for (let i = 0; i < n; i++) {
      const wh = load.consumptionWh(i, intervalStart, intervalS, noise);
      readings[i] = wh > maxReading ? maxReading : wh;
    }
    // Dropouts: a seeded sample of users send nothing this round.
    absent = new Uint8Array(n);
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
      attackVictim = victim;
      if (attack.kind === "replay" && previousAbsent[victim]) {
        throw new Error(`runBbnp: user ${victim} has no report of round ${r - 1} to replay`);
      }
    }
    previousAbsent = absent;
    // Dropouts during recovery: drawn once per round for every user (silent if ever asked).
    silentInRecoveryDraw = new Uint8Array(n);
    if (recoveryDropout > 0) {
      const silentRng = roundRng.fork("recovery-dropout");
      for (let i = 0; i < n; i++)
        silentInRecoveryDraw[i] = silentRng.nextFloat() < recoveryDropout ? 1 : 0;
    }
    silenced = new Uint8Array(n);
    currentRound = t;

    const outcome = await drive(gateway.runRound(t));
    // Let the last messages of the round land (committed blocks reach every node).
    await drive(new Promise<void>((resolve) => clock.setTimeout(resolve, 100)));
    const signed = outcome.signed;

    // Ground truth: Σ readings of the users whose genuine report reached the gateway and who
    // answered every reveal request they got.
    const lost = attacked.lostRounds.has(t);
    let truth = 0n;
    let reporters = 0;
    const missing: number[] = [];
    const excludedByRunner: number[] = [];
    for (let i = 0; i < n; i++) {
      if (absent[i] || (i === victim && lost)) missing.push(i);
      else if (silenced[i]) excludedByRunner.push(i);
      else {
        truth += readings[i];
        reporters++;
      }
    }
    if (signed && signed.excluded.join(",") !== excludedByRunner.join(",")) {
      throw new Error(`runBbnp: round ${r}: the gateway's excluded set differs from the runner's`);
    }
    if (
      signed &&
      signed.missing.join(",") !== [...missing, ...excludedByRunner].sort((a, b) => a - b).join(",")
    ) {
      throw new Error(`runBbnp: round ${r}: the gateway's missing set differs from the runner's`);
    }

    // Chain, as measured at the chain edge.
    let onChain: bigint | undefined;
    let gasUsed = 0n;
    let primary: number | undefined;
    let view: number | undefined;
    let signers: number[] | undefined;
    let reputations: number[] | undefined;
    if (!signed) {
      // Aborted cleanly: nothing to publish.
    } else if (mode === "gateway") {
      onChain = outcome.recorded?.sum;
      gasUsed = outcome.recorded?.gasUsed ?? 0n;
    } else {
      const committed = outcome.committed;
      const measured = commitsByRound.get(t);
      if (!committed || !measured) {
        throw new Error(`runBbnp: round ${r}: the consensus nodes committed no block`);
      }
      const sigOk = hex(committed.block.gatewaySignature) === hex(signed.signature);
      if (!sigOk) throw new Error(`runBbnp: round ${r}: committed σ_GW differs from the gateway's`);
      onChain = measured.sum;
      gasUsed = measured.gasUsed;
      primary = committed.block.primary;
      view = committed.order.indexOf(primary);
      signers = bitmapIndices(committed.certificate.signers);
      reputations = committed.block.reputations.map(fromFixed18);
    }

    let keyPrepMs = 0;
    let usersMs = 0;
    for (const u of users) {
      const st = u.lastRound;
      if (st?.round === t) {
        keyPrepMs += st.prepareMs;
        usersMs += st.reportMs;
      }
    }
    step({ task: "users prepared", done: n, total: n });
    const { gatewayMs, recoveryMs, finalizeMs, chainMs } = outcome.timings;
    const rejections = outcome.rejections;
    const named = rejections.map((x: ReportRejection) => ({ userId: x.userId, reason: x.reason }));
    const aborted = outcome.aborted;
    const summary: BbnpRoundSummary = {
      round: r,
      epoch: keys.params.epoch,
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
      revealedMasks: outcome.revealedMasks,
      rejected: outcome.rejected,
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
      const expectedRejections: { userId: number; reason: RejectionReason }[] =
        attack.kind === "replay"
          ? [
              { userId: victim, reason: "wrong-round" },
              { userId: victim, reason: "duplicate" },
            ]
          : [{ userId: victim, reason: "bad-tag" }];
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
  await gateway.stop();
  for (const u of users) await u.stop();
  for (const a of nodeAgents) await a.stop();

  const sumOf = (f: (s: BbnpRoundSummary) => string) =>
    perRound.reduce((a, x) => a + BigInt(f(x) || "0"), 0n).toString();
  const rejectedTotal = zeroRejections();
  for (const x of perRound) for (const k of REJECTION_REASONS) rejectedTotal[k] += x.rejected[k];
  return {
    scenario: `BBNP ${mode} mode: ${n} users, ${counted(scenario.rounds, "round")}`,
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
      readingsSumWh: sumOf((x) => x.readingsSumWh),
      onChainSum: sumOf((x) => x.onChainSum),
      allMatch: perRound.every((x) => x.match),
      gasUsed: sumOf((x) => x.gasUsed),
      aborted: perRound.filter((x) => x.aborted !== undefined).length,
      rejected: rejectedTotal,
      medianRoundMs: median(perRound.map((x) => x.timings.roundMs)),
      medianGatewayUsPerUser: median(
        perRound.map(
          (x) => ((x.timings.gatewayMs + x.timings.finalizeMs) * 1000) / Math.max(1, x.reporters),
        ),
      ),
    },
    ...(attackOutcome ? { attack: attackOutcome } : {}),
    wallTimeMs: now() - t0,
  };
}

/** Chain calls in flight (virtual time stands still while the chain works). */
class InFlight {
  count = 0;

  /** Wraps every function of `client` returning a promise so that it is counted while pending. */
  track<T extends object>(client: T): T {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(client)) {
      out[key] =
        typeof value === "function"
          ? (...args: unknown[]) => {
              const r = (value as (...a: unknown[]) => unknown).apply(client, args);
              if (!(r instanceof Promise)) return r;
              this.count++;
              return r.finally(() => this.count--);
            }
          : value;
    }
    return out as T;
  }
}

/** Lets pending promise continuations and I/O callbacks run (one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
