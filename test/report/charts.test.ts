// The report's charts plot exactly the run's numbers (issue 13 "the numbers plotted equal the run's
// JSON"): every chart's inline data is checked against the fields of a real small run of each
// scheme, and the fields added for the report are checked against the ones that existed before
// (Σ gas by function = interval gas, Σ per-relay counters = run counters, entries per value sum to
// the interval's entries).
import { expect } from "chai";

import { tariffPrice } from "../../offchain/protocol/tariff.ts";
import {
  bbnpCharts,
  certificateChart,
  nodeType,
  participationChart,
  reputationChart,
  roundGasChart,
  sumsChart,
} from "../../offchain/report/bbnp.ts";
import {
  ChartRenderError,
  chartData,
  fmtInt,
  renderSvg,
  type Chart,
  type Datum,
} from "../../offchain/report/chart.ts";
import {
  MAX_RELAY_BARS,
  anonymityChart,
  billsChart,
  gasChart,
  loadChart,
  oksuzCharts,
  packetSizeChart,
  priceChart,
  rejectedChart,
  relayTrafficChart,
} from "../../offchain/report/oksuz.ts";
import { fig10Spec, fig9Spec } from "../../offchain/report/reproduction.ts";
import type { BbnpRun, OksuzRun } from "../../offchain/report/run.ts";
import {
  PAPER_VALUES,
  RANK_BUCKETS,
  type ReproductionResult,
} from "../../offchain/sim/reputation-experiments.ts";
import { smallBbnpRun, smallOksuzRun } from "./fixtures.ts";

const rows = (chart: Chart, where: (d: Datum) => boolean = () => true) =>
  chartData(chart).filter(where);
const sum = (xs: readonly (string | number)[]) => xs.reduce<bigint>((a, x) => a + BigInt(x), 0n);

/** Title, caption, axis titles with units where there are axes, a table with rows. */
function expectLabelled(chart: Chart): void {
  expect(chart.title, chart.id).to.be.a("string").and.not.equal("");
  expect(chart.caption, chart.id).to.be.a("string").and.not.equal("");
  expect(chart.caption.includes("\n"), `${chart.id} caption is one line`).to.equal(false);
  expect(chart.table.rows.length, `${chart.id} table`).to.be.greaterThan(0);
  for (const r of chart.table.rows) expect(r).to.have.length(chart.table.header.length);
  const spec = chart.spec as {
    title?: unknown;
    encoding?: Record<string, { title?: unknown }>;
    layer?: { encoding?: Record<string, { title?: unknown }> }[];
  };
  expect(spec.title, `${chart.id} spec title`).to.not.equal(undefined);
  const enc = { ...spec.layer?.[0]?.encoding, ...spec.encoding };
  for (const axis of ["x", "y"]) {
    expect(enc[axis]?.title, `${chart.id} ${axis} title`).to.be.a("string").and.match(/\S/);
  }
  // Units: every quantitative axis title names one in parentheses.
  for (const axis of ["x", "y"] as const) {
    const e = enc[axis] as { type?: string; title?: string; aggregate?: string };
    if (e.type === "quantitative")
      expect(e.title, `${chart.id} ${axis} unit`).to.match(/\(.+\)|count/);
  }
}

describe("report: Oksuz charts plot the run's numbers", function () {
  this.timeout(300_000);
  let run: OksuzRun;
  before(async () => {
    run = await smallOksuzRun();
  });

  it("load: measured, reported and carry per interval", () => {
    const chart = loadChart(run);
    expect(rows(chart)).to.have.length(3 * run.perInterval.length);
    for (const s of run.perInterval) {
      const at = (series: string) =>
        rows(chart, (d) => d.interval === s.interval && d.series === series)[0].wh;
      expect(at("measured")).to.equal(Number(s.measuredWh));
      expect(at("reported (Σc on the ledger)")).to.equal(Number(s.aggregateWh));
      expect(at("carry held by meters")).to.equal(Number(s.carriedWh));
    }
  });

  it("price: each interval's point is (Σc_j, p_j) and lies on the sampled public tariff", () => {
    const chart = priceChart(run);
    const tariff = {
      breakpointsWh: run.tariff.breakpointsWh.map(BigInt),
      values: run.tariff.values.map(BigInt),
      cap: BigInt(run.tariff.cap),
    };
    const points = rows(chart, (d) => d.layer === "interval");
    expect(points.map((d) => [d.interval, d.wh, d.price])).to.deep.equal(
      run.perInterval.map((s) => [s.interval, Number(s.aggregateWh), Number(s.price)]),
    );
    const curve = rows(chart, (d) => d.layer === "tariff");
    expect(curve.length).to.be.greaterThan(100);
    for (const d of curve) {
      expect(d.price).to.equal(Number(tariffPrice(tariff, BigInt(d.wh as number))));
    }
    const top = Math.max(...curve.map((d) => d.wh as number));
    for (const p of points) expect(p.wh as number).to.be.lessThan(top);
    expect(chart.table.rows.every((r) => r[4] === "yes")).to.equal(true);
  });

  it("bills: one bar datum per user and interval, the posted bill", () => {
    const chart = billsChart(run);
    expect(rows(chart).map((d) => [d.interval, d.meter, d.bill])).to.deep.equal(
      run.userChecks.map((c) => [`j=${c.interval}`, c.meterIndex, Number(c.postedBill)]),
    );
    for (const s of run.perInterval) {
      const billed = sum(
        run.userChecks.filter((c) => c.interval === s.interval).map((c) => c.postedBill),
      );
      expect(billed.toString()).to.equal(s.billedTotal);
    }
  });

  it("anonymity: entries per category value; the smallest non-zero is min anon", () => {
    const chart = anonymityChart(run);
    expect(rows(chart)).to.have.length(run.categories.length * run.perInterval.length);
    for (const s of run.perInterval) {
      const mine = rows(chart, (d) => d.interval === s.interval);
      expect(mine.map((d) => d.entries)).to.deep.equal(
        run.categories.map((c) => s.entriesPerValue[c] ?? 0),
      );
      expect(sum(mine.map((d) => d.entries as number))).to.equal(BigInt(s.entries));
      const occurring = mine.map((d) => d.entries as number).filter((k) => k > 0);
      expect(Math.min(...occurring)).to.equal(s.minAnonymitySet);
    }
  });

  it("rejected: CC's counts per reason, the relays' drops and the network's losses", () => {
    const chart = rejectedChart(run);
    const cc = rows(chart, (d) => d.stage === "control center");
    const expected = sum(
      run.perInterval
        .flatMap((s) => Object.values(s.rejected))
        .concat(Object.values(run.unattributedRejections).map((k) => k ?? 0)),
    );
    expect(sum(cc.map((d) => d.count as number))).to.equal(expected);
    for (const [k, v] of Object.entries(run.relays).filter(([k]) => k.startsWith("dropped."))) {
      const d = rows(chart, (x) => x.stage === "onion relay" && x.reason === k.slice(8));
      expect(d.map((x) => x.count)).to.deep.equal([v]);
    }
    for (const [reason, v] of Object.entries(run.network.dropped)) {
      expect(rows(chart, (x) => x.stage === "network" && x.reason === reason)[0].count).to.equal(v);
    }
  });

  it("relays: per-relay counters, which add up to the run's relay counters", () => {
    const chart = relayTrafficChart(run);
    expect(run.relayTraffic).to.have.length(run.meters);
    for (const r of run.relayTraffic) {
      const at = (series: string) =>
        rows(chart, (d) => d.relay === r.relay && d.series === series)[0].packets;
      expect(at("received")).to.equal(r.received);
      expect(at("forwarded")).to.equal(r.forwarded);
      expect(at("sent on links")).to.equal(r.packetsSent);
    }
    expect(sum(run.relayTraffic.map((r) => r.received))).to.equal(BigInt(run.relays.received));
    expect(sum(run.relayTraffic.map((r) => r.forwarded))).to.equal(BigInt(run.relays.forwarded));
    // No loss in this run: every packet sent on the network left some relay.
    expect(sum(run.relayTraffic.map((r) => r.packetsSent))).to.equal(
      BigInt(run.network.packetsSent),
    );
  });

  it("packet sizes: one size, all packets (DESIGN §4.6)", () => {
    const chart = packetSizeChart(run);
    expect(run.network.packetSizes).to.have.length(1);
    expect(rows(chart).map((d) => [d.bytes, d.packets])).to.deep.equal([
      [run.network.packetSizes[0], run.network.packetsSent],
    ]);
  });

  it("gas: per interval and ledger function; the functions add up to the interval's gas", () => {
    const chart = gasChart(run);
    for (const s of run.perInterval) {
      const mine = rows(chart, (d) => d.phase === `j=${s.interval}`);
      expect(Object.fromEntries(mine.map((d) => [d.operation, String(d.gas)]))).to.deep.equal(
        s.gasByOperation,
      );
      expect(sum(Object.values(s.gasByOperation)).toString()).to.equal(s.gasUsed);
      for (const op of [
        "openInterval",
        "postOcd", // OCD entries (packed calldata) and zero slots, merged in pseudonym order (DESIGN §7)
        "sealInterval",
        "postDap",
        "postBills",
        "closeBilling",
      ]) {
        expect(s.gasByOperation, op).to.have.property(op);
      }
    }
    expect(run.setupGasByOperation).to.include.keys("deploy", "registerMeters");
  });

  it("every chart is labelled and renders to SVG without a Vega warning", async () => {
    for (const chart of oksuzCharts(run)) {
      expectLabelled(chart);
      const svg = await renderSvg(chart.spec);
      expect(svg, chart.id).to.match(/^<svg [^>]*class="marks"/);
    }
  });

  it("relays: more than MAX_RELAY_BARS relays become a histogram of packets per relay", () => {
    const many = Array.from({ length: MAX_RELAY_BARS + 1 }, (_, i) => ({
      ...run.relayTraffic[0],
      relay: `meter-${i}`,
      packetsSent: 10 + (i % 3),
    }));
    const chart = relayTrafficChart({ ...run, relayTraffic: many });
    expect(rows(chart).map((d) => d.sent)).to.deep.equal(many.map((r) => r.packetsSent));
    expect((chart.spec as { encoding: { x: { bin?: unknown } } }).encoding.x.bin).to.not.equal(
      undefined,
    );
    // The table summarises instead of listing every relay: min, median, max, Σ.
    expect(chart.table.rows.map((r) => r[5])).to.deep.equal([
      "10",
      "11",
      "12",
      fmtInt(sum(many.map((r) => r.packetsSent))),
    ]);
  });
});

describe("report: BBNP charts plot the run's numbers", function () {
  this.timeout(300_000);
  let run: BbnpRun;
  before(async () => {
    run = await smallBbnpRun();
  });

  it("sums: Σ readings and the committed sum per round", () => {
    const chart = sumsChart(run);
    for (const s of run.perRound) {
      const at = (series: string) =>
        rows(chart, (d) => d.round === s.round && d.series === series)[0].wh;
      expect(at("Σ readings (truth)")).to.equal(Number(s.readingsSumWh));
      expect(at("committed on-chain")).to.equal(Number(s.onChainSum));
    }
    expect(run.totals.allMatch).to.equal(true);
  });

  it("participation: reporters, missing users and reveals per round", () => {
    const chart = participationChart(run);
    for (const s of run.perRound) {
      const at = (series: string) =>
        rows(chart, (d) => d.round === s.round && d.series === series)[0].users;
      expect(at("reporters")).to.equal(s.reporters);
      expect(at("dropouts")).to.equal(s.missing.length);
      expect(at("revealed masks")).to.equal(s.revealedMasks);
      expect(s.reporters + s.missing.length).to.equal(run.users);
      expect(s.missing.length).to.equal(2);
    }
  });

  it("certificate: one primary per round and exactly the certificate's signers", () => {
    const chart = certificateChart(run);
    expect(rows(chart)).to.have.length(run.rounds * run.consensus!.nodes);
    for (const s of run.perRound) {
      const primary = rows(chart, (d) => d.round === s.round && d.role === "primary");
      expect(primary.map((d) => d.node)).to.deep.equal([s.primary]);
      const inCert = rows(chart, (d) => d.round === s.round && d.role !== "not in the certificate")
        .map((d) => d.node as number)
        .sort((a, b) => a - b);
      expect(inCert).to.deep.equal(
        [...new Set([...(s.signers ?? []), s.primary!])].sort((a, b) => a - b),
      );
      expect(s.signers!.length).to.be.at.least(3); // 2f + 1 of 4
    }
  });

  it("reputation: Γ per node and round as committed, typed by the node's behaviour", () => {
    const chart = reputationChart(run);
    const faulty = run.consensus!.faulty;
    expect(faulty).to.deep.equal([{ node: faulty[0].node, behaviour: "wrongSignature" }]);
    for (const s of run.perRound) {
      expect(s.reputations).to.have.length(run.consensus!.nodes);
      const mine = rows(chart, (d) => d.round === s.round);
      expect(mine.map((d) => d.reputation)).to.deep.equal(s.reputations);
      for (const d of mine) {
        const node = Number(String(d.node).slice(5));
        expect(d.type).to.equal(node === faulty[0].node ? "malicious" : "friendly");
      }
    }
    // Round 1's block carries the initial reputations (0.50–0.60, offchain/sim/bbnp.ts).
    for (const g of run.perRound[0].reputations!) expect(g).to.be.within(0.5, 0.6);
  });

  it("gas: one bar per round with its gas, committed or aborted", () => {
    const chart = roundGasChart(run);
    for (const s of run.perRound) {
      const mine = rows(chart, (d) => d.round === s.round);
      expect(mine.map((d) => d.gas)).to.deep.equal([Number(s.gasUsed)]);
      expect(mine[0].outcome).to.equal(s.aborted === undefined ? "committed" : "aborted");
    }
    expect(sum(run.perRound.map((s) => s.gasUsed)).toString()).to.equal(run.totals.gasUsed);
  });

  it("every chart is labelled and renders to SVG without a Vega warning", async () => {
    const charts = bbnpCharts(run);
    expect(charts.map((c) => c.id)).to.deep.equal([
      "bbnp-sums",
      "bbnp-participation",
      "bbnp-certificate",
      "bbnp-reputation",
      "bbnp-gas",
    ]);
    for (const chart of charts) {
      expectLabelled(chart);
      expect(await renderSvg(chart.spec), chart.id).to.match(/^<svg /);
    }
  });

  it("gateway mode has no consensus charts", () => {
    const { consensus: _c, ...gatewayRun } = run;
    expect(
      bbnpCharts({ ...gatewayRun, mode: "gateway" } as BbnpRun).map((c) => c.id),
    ).to.deep.equal(["bbnp-sums", "bbnp-participation", "bbnp-gas"]);
  });
});

describe("report: node types and reproduction figures", () => {
  it("nodeType: honest → friendly, slow → intermediate, every other fault → malicious", () => {
    expect(nodeType("honest")).to.equal("friendly");
    expect(nodeType("slow")).to.equal("intermediate");
    for (const b of ["crashed", "wrongSignature", "wrongBlock", "equivocate", "stall"] as const) {
      expect(nodeType(b)).to.equal("malicious");
    }
  });

  const result: ReproductionResult = {
    reputation: {
      E1: {
        friendly: [0.53, 0.6, 0.7],
        intermediate: [0.53, 0.5, 0.48],
        malicious: [0.53, 0.3, 0.2],
      },
      E2: { friendly: [0.53, 0.58], intermediate: [0.53, 0.45], malicious: [0.53, 0.25] },
    },
    primarySelection: {
      S1: { "1-3": 30, "4-10": 10, "11-20": 5, "21-30": 3, "31+": 2 },
      S2: { "1-3": 28, "4-10": 12, "11-20": 5, "21-30": 3, "31+": 2 },
      S3: { "1-3": 27, "4-10": 13, "11-20": 5, "21-30": 3, "31+": 2 },
    },
  };

  it("Fig. 9: every trace point, coloured by node type, dashed by experiment", async () => {
    const spec = fig9Spec(result, ["E1", "E2"], "a");
    const data = chartData({ spec });
    expect(data).to.have.length(3 * 3 + 3 * 2);
    for (const d of data) {
      const trace = result.reputation[d.experiment as string][d.type as "friendly"];
      expect(d.reputation).to.equal(trace[d.round as number]);
    }
    const enc = (spec as { encoding: Record<string, { field?: string }> }).encoding;
    expect(enc.color.field).to.equal("type");
    expect(enc.strokeDash.field).to.equal("experiment");
    expect(await renderSvg(spec)).to.contain("Fig. 9(a) reproduced");
  });

  it("Fig. 10: ours and the paper's counts, one colour per scenario, whole-number ticks", async () => {
    const spec = fig10Spec(result);
    const data = chartData({ spec });
    for (const s of ["S1", "S2", "S3"] as const) {
      for (const b of RANK_BUCKETS) {
        const at = (source: string) =>
          data.find((d) => d.scenario === s && d.bucket === b && d.source === source)!.count;
        expect(at("ours")).to.equal(result.primarySelection[s][b]);
        expect(at("paper")).to.equal(PAPER_VALUES.primarySelection[s][b]);
      }
    }
    const enc = (
      spec as {
        encoding: Record<
          string,
          { field?: string; axis?: { format?: string; tickMinStep?: number } }
        >;
      }
    ).encoding;
    expect(enc.color.field).to.equal("scenario"); // "ours" and "paper" of a scenario share it
    expect(enc.y.axis).to.include({ format: "d", tickMinStep: 1 });
    const svg = await renderSvg(spec);
    // y tick labels are whole numbers only.
    const ticks = [...svg.matchAll(/role-axis-label[\s\S]*?<\/g>/g)].join("");
    expect(ticks).to.not.match(/>\d+\.\d+</);
  });

  it("renderSvg names the chart and refuses a spec Vega-Lite warns about", async () => {
    let error: unknown;
    try {
      await renderSvg({
        title: "broken",
        data: { values: [{ a: "x" }] },
        mark: "bar",
        encoding: { opacity: { field: "a", type: "nominal" } },
      });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ChartRenderError);
    expect((error as Error).message).to.match(/^renderSvg: chart "broken": /);
  });
});
