// BBNP consensus (DESIGN §5, docs/CONSENSUS.md):
//   gas.bbnp_round_m{4,31,100}: receipt gasUsed of a commitBlock transaction (21000 base, calldata,
//       GW signature + certificate in one 3-pair pairing, registry update, event) with ALL nodes
//       signing, in the STEADY STATE: the median of the rounds after the first (the first round
//       writes the head digest from zero, +17 100 gas, once per deployment);
//       gas.bbnp_round_m100_quorum: the same with exactly 2f+1 signers (f non-signers' keys read
//       from the key table and subtracted). `…_first` variants: the first round.
//   gas.primary_selection: eth_estimateGas of verifyPrimarySelection for M = 7 (all pre-selected
//       nodes reveal), minus nothing: includes the 21000 base and calldata.
//   cn.round_ms_m100: wall time in-process of one round for 100 nodes (build, 100 BLS signatures,
//       vote aggregation and one aggregate verification), single-threaded.
//   cn.round_critical_ms_m100: critical-path estimate when nodes sign in parallel (one node's
//       block check + one signature + the primary's aggregation and aggregate verification).
import {
  blsAggregatePublicKeys,
  blsAggregateSignatures,
  blsPublicKey,
  blsSign,
  blsVerify,
  g1ToEip2537,
  g2ToEip2537,
} from "../../crypto/bls.ts";
import {
  aggregateCertificate,
  blockDigest,
  commitBlockArgs,
  packReputations,
  type ConsensusBlock,
} from "../../consensus/block.ts";
import { aggregationDomain, bbnpSignRound, bbnpVerifyRound } from "../../protocol/aggregation.ts";
import {
  preselect,
  randomFromSignature,
  roundRandomMessage,
  selectPrimary,
} from "../../protocol/primary-selection.ts";
import { benchEthers } from "../chain.ts";
import type { BenchContext } from "../harness.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { BLS_R, blsProvePossession } from "../../crypto/bls.ts";

const h = (x: Uint8Array): string => "0x" + bytesToHex(x);
const GW_SK = 0x6a7e_3a7e_5eedn;
const sk = (j: number) =>
  BigInt("0x" + bytesToHex(sha256(new TextEncoder().encode(`bench/${j}`)))) % BLS_R;

async function deploy(m: number) {
  const ethers = await benchEthers();
  const [admin, primaryAccount] = await ethers.getSigners();
  const sks = Array.from({ length: m }, (_, j) => sk(j));
  const keys = sks.map(blsPublicKey);
  const reps = Array.from(
    { length: m },
    (_, j) => 500_000_000_000_000_000n + BigInt((j * 37) % 11) * 10n ** 16n + 123_456_789n,
  );
  const ledger = await ethers.deployContract("AggregationLedger", [
    admin.address,
    h(g1ToEip2537(blsPublicKey(GW_SK))),
  ]);
  const registry = await ethers.deployContract("ReputationRegistry", [admin.address]);
  await (await registry.bindLedger(await ledger.getAddress())).wait();
  await (await ledger.bindRegistry(await registry.getAddress())).wait();
  for (let j = 0; j < m; j++) {
    const account =
      j === 0
        ? primaryAccount.address
        : ethers.getAddress("0x" + (j + 1).toString(16).padStart(40, "7"));
    await (
      await registry.addNode(
        account,
        h(g1ToEip2537(keys[j])),
        h(g2ToEip2537(blsProvePossession(sks[j]))),
        reps[j],
        h(packReputations(reps.slice(0, j))),
      )
    ).wait();
  }
  const { chainId } = await ethers.provider.getNetwork();
  const domain = aggregationDomain(chainId, await ledger.getAddress());
  const epoch = Number(await registry.membershipEpoch());
  return { ethers, ledger, registry, primaryAccount, sks, keys, reps, domain, epoch };
}

/** Counted reporters of a benchmark round (a 1,000-household feeder: 2 non-zero calldata bytes). */
const BENCH_REPORTERS = 1_000;

/** Receipts of `rounds` consecutive commitBlock transactions (exported for profiling). */
export async function roundReceipts(m: number, signersCount: number, rounds: number) {
  const d = await deploy(m);
  const out: { hash: string; gasUsed: number }[] = [];
  let prev: Uint8Array = new Uint8Array(32);
  for (let t = 1n; t <= BigInt(rounds); t++) {
    const sum = 1_000_000n + t;
    const block: ConsensusBlock = {
      round: t,
      previousDigest: prev,
      sum,
      gatewaySignature: bbnpSignRound(GW_SK, d.domain, t, sum, BENCH_REPORTERS),
      primary: 0,
      reputations: d.reps,
      epoch: d.epoch,
      reporters: BENCH_REPORTERS,
    };
    const digest = blockDigest(d.domain, block);
    const votes = new Map<number, Uint8Array>();
    for (let j = 0; j < signersCount; j++) votes.set(j, blsSign(d.sks[j], digest));
    const args = commitBlockArgs(block, aggregateCertificate(votes), d.keys);
    const receipt = await (
      await d.ledger.connect(d.primaryAccount).commitBlock(args.block, args.certificate)
    ).wait();
    if (receipt === null || receipt.status !== 1)
      throw new Error("consensus bench: commitBlock failed");
    out.push({ hash: receipt.hash, gasUsed: Number(receipt.gasUsed) });
    prev = digest;
  }
  return { ethers: d.ethers, receipts: out };
}

async function roundGas(m: number, signersCount: number, rounds: number): Promise<number[]> {
  return (await roundReceipts(m, signersCount, rounds)).receipts.map((r) => r.gasUsed);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function run(ctx: BenchContext): Promise<void> {
  // At least two rounds even in --quick mode: the steady state is what a deployment pays.
  const rounds = ctx.quick ? 2 : 4;
  const cases: [string, number, number][] = [
    ["m4", 4, 4],
    ["m31", 31, 31],
    ["m100", 100, 100],
    ["m100_quorum", 100, 67],
  ];
  for (const [name, m, signers] of cases) {
    const gas = await roundGas(m, signers, rounds);
    ctx.record(`gas.bbnp_round_${name}`, median(gas.slice(1)), "gas");
    ctx.record(`gas.bbnp_round_${name}_first`, gas[0], "gas");
  }

  // Primary selection, M = 7, every pre-selected node reveals.
  {
    const d = await deploy(7);
    const msg = roundRandomMessage(d.domain, 1n, new Uint8Array(32));
    const pre = preselect(d.reps);
    const sigs = pre.map((q) => blsSign(d.sks[q], msg));
    const gw = blsSign(GW_SK, msg);
    const sel = selectPrimary({
      reputations: d.reps,
      randoms: new Map(pre.map((q, i) => [q, randomFromSignature(sigs[i])])),
      threshold: randomFromSignature(gw),
    });
    let bitmap = 0n;
    for (const q of pre) bitmap |= 1n << BigInt(q);
    const args = [
      1n,
      h(packReputations(d.reps)),
      bitmap,
      h(Buffer.concat(pre.map((q) => g1ToEip2537(d.keys[q])))),
      h(Buffer.concat(sigs.map(g2ToEip2537))),
      h(g2ToEip2537(gw)),
      sel.primary,
    ] as const;
    if (!(await d.registry.verifyPrimarySelection(...args)))
      throw new Error("consensus bench: selection did not verify");
    ctx.log(`  (primary selection: M = 7, ${pre.length} pre-selected revealers)`);
    ctx.record(
      "gas.primary_selection",
      Number(await d.registry.verifyPrimarySelection.estimateGas(...args)),
      "gas",
    );
  }

  // Off-chain round for 100 nodes, in-process.
  const m = 100;
  const sks = Array.from({ length: m }, (_, j) => sk(j));
  const keys = sks.map(blsPublicKey);
  const domain = aggregationDomain(31337n, "0x" + "ab".repeat(20));
  const reps = Array.from({ length: m }, () => 530_000_000_000_000_027n);
  const gwSig = bbnpSignRound(GW_SK, domain, 1n, 42n, BENCH_REPORTERS);
  const t0 = performance.now();
  if (!bbnpVerifyRound(blsPublicKey(GW_SK), domain, 1n, 42n, BENCH_REPORTERS, gwSig)) {
    throw new Error("gw");
  }
  const block: ConsensusBlock = {
    round: 1n,
    previousDigest: new Uint8Array(32),
    sum: 42n,
    gatewaySignature: gwSig,
    primary: 0,
    reputations: reps,
    epoch: 0,
    reporters: BENCH_REPORTERS,
  };
  const digest = blockDigest(domain, block);
  const tBuilt = performance.now();
  const signTimes: number[] = [];
  const votes: Uint8Array[] = [];
  for (let j = 0; j < m; j++) {
    const s0 = performance.now();
    votes.push(blsSign(sks[j], digest));
    signTimes.push(performance.now() - s0);
  }
  const tSigned = performance.now();
  const ok = blsVerify(blsAggregatePublicKeys(keys), digest, blsAggregateSignatures(votes));
  const tDone = performance.now();
  if (!ok) throw new Error("consensus bench: aggregate did not verify");
  ctx.record("cn.round_ms_m100", tDone - t0, "ms");
  ctx.record(
    "cn.round_critical_ms_m100",
    tBuilt - t0 + median(signTimes) + (tDone - tSigned),
    "ms",
  );
  ctx.log(
    `  (in-process: block ${(tBuilt - t0).toFixed(0)} ms incl. GW check, 100 signatures ${(tSigned - tBuilt).toFixed(0)} ms, aggregate+verify ${(tDone - tSigned).toFixed(0)} ms)`,
  );
}
