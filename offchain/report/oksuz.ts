// The Oksuz section of a run report (issue 13): one chart per question a utility engineer or a
// regulator asks of a billing run. Every function here is pure: the run's JSON in, a Chart (spec
// with inline data, caption, table) out. Units: energy in Wh, price in price units per Wh, bills
// in price units, gas in gas units (DESIGN §2, §7; offchain/sim/oksuz.ts `OksuzReport`).
import { tariffPrice, type TariffSchedule } from "../protocol/tariff.ts";
import { INTEGER_AXIS, PLOT, fmtInt, type Chart, type Datum } from "./chart.ts";
import type { OksuzRun } from "./run.ts";

/** More relays than this are summarised as a histogram instead of one bar each. */
export const MAX_RELAY_BARS = 60;

const LOAD_SERIES = ["measured", "reported (Σc on the ledger)", "carry held by meters"] as const;

/** Measured vs reported load per interval, with the carry the meters hold (DESIGN §7). */
export function loadChart(run: OksuzRun): Chart {
  const values: Datum[] = run.perInterval.flatMap((s) => [
    { interval: s.interval, series: LOAD_SERIES[0], wh: Number(s.measuredWh) },
    { interval: s.interval, series: LOAD_SERIES[1], wh: Number(s.aggregateWh) },
    { interval: s.interval, series: LOAD_SERIES[2], wh: Number(s.carriedWh) },
  ]);
  return {
    id: "oksuz-load",
    title: "Measured and reported load per interval",
    caption:
      `Meters report whole category chunks and carry the rest: reported + carry follows measured; ` +
      `over the run Σ measured ${fmtInt(run.totals.measuredWh)} Wh = Σ reported ${fmtInt(run.totals.reportedWh)} Wh + final carry ${fmtInt(run.totals.finalCarryWh)} Wh` +
      (run.totals.conserved ? " (conserved)." : " — NOT conserved."),
    spec: {
      title: "Measured and reported load per interval",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: { field: "interval", type: "ordinal", title: "interval j", axis: { labelAngle: 0 } },
        xOffset: { field: "series", sort: [...LOAD_SERIES] },
        y: { field: "wh", type: "quantitative", title: "energy (Wh)" },
        color: { field: "series", type: "nominal", sort: [...LOAD_SERIES], title: "series" },
      },
    },
    table: {
      header: ["j", "measured Wh", "reported Wh", "carry Wh"],
      rows: run.perInterval.map((s) => [
        String(s.interval),
        fmtInt(s.measuredWh),
        fmtInt(s.aggregateWh),
        fmtInt(s.carriedWh),
      ]),
    },
  };
}

function tariffOf(run: OksuzRun): TariffSchedule {
  return {
    breakpointsWh: run.tariff.breakpointsWh.map(BigInt),
    values: run.tariff.values.map(BigInt),
    cap: BigInt(run.tariff.cap),
  };
}

/** Samples of the public tariff curve from 0 to past the largest aggregate (and breakpoint in view). */
export function tariffCurve(run: OksuzRun, samples = 240): { wh: number; price: number }[] {
  const t = tariffOf(run);
  const largest = Math.max(1, ...run.perInterval.map((s) => Number(s.aggregateWh)));
  // Up to the next breakpoint past the largest aggregate (where the price would change), within
  // 1.5–4× the largest, so the points are seen against the curve's shape.
  const next = t.breakpointsWh.map(Number).find((b) => b > largest) ?? largest;
  const top = Math.ceil(Math.min(4 * largest, Math.max(1.5 * largest, 1.2 * next)));
  const xs = new Set<number>();
  for (let k = 0; k <= samples; k++) xs.add(Math.round((top * k) / samples));
  for (const b of t.breakpointsWh) if (Number(b) <= top) xs.add(Number(b));
  return [...xs]
    .sort((a, b) => a - b)
    .map((wh) => ({ wh, price: Number(tariffPrice(t, BigInt(wh))) }));
}

/** Each interval's price as the point (Σc_j, p_j) on the public tariff curve (DESIGN §2 "Price"). */
export function priceChart(run: OksuzRun): Chart {
  const t = tariffOf(run);
  const points: Datum[] = run.perInterval.map((s) => ({
    layer: "interval",
    interval: s.interval,
    wh: Number(s.aggregateWh),
    price: Number(s.price),
    label: `j=${s.interval}`,
  }));
  const curve: Datum[] = tariffCurve(run).map((p) => ({ layer: "tariff", ...p }));
  const onCurve = run.perInterval.every(
    (s) => BigInt(s.price) === tariffPrice(t, BigInt(s.aggregateWh)),
  );
  const legend = {
    field: "layer",
    type: "nominal",
    title: "",
    scale: { domain: ["tariff", "interval"], range: ["#4e79a7", "#e15759"] },
    legend: { labelExpr: "datum.label == 'tariff' ? 'public tariff' : 'interval (Σc_j, p_j)'" },
  } as const;
  return {
    id: "oksuz-price",
    title: "Price against the public tariff",
    caption: onCurve
      ? "Every interval's price sits on the public tariff at its own aggregate: the ledger refuses any other price."
      : "An interval's price is OFF the public tariff curve: check the DAP ledger.",
    spec: {
      title: "Price against the public tariff",
      width: PLOT.width,
      height: PLOT.height,
      data: { values: [...curve, ...points] },
      layer: [
        {
          transform: [{ filter: "datum.layer == 'tariff'" }],
          mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
          encoding: {
            x: { field: "wh", type: "quantitative", title: "interval aggregate Σc (Wh)" },
            y: {
              field: "price",
              type: "quantitative",
              title: "price (units per Wh)",
              axis: INTEGER_AXIS,
            },
            color: legend,
          },
        },
        {
          transform: [{ filter: "datum.layer == 'interval'" }],
          mark: { type: "point", filled: true, size: 90, tooltip: true },
          encoding: {
            x: { field: "wh", type: "quantitative" },
            y: { field: "price", type: "quantitative" },
            color: legend,
          },
        },
      ],
    },
    table: {
      header: ["j", "Σc Wh", "price", "tariff(Σc)", "on curve"],
      rows: run.perInterval.map((s) => {
        const expected = tariffPrice(t, BigInt(s.aggregateWh));
        return [
          String(s.interval),
          fmtInt(s.aggregateWh),
          s.price,
          expected.toString(),
          BigInt(s.price) === expected ? "yes" : "NO",
        ];
      }),
    },
  };
}

/** The distribution of the bills the BC ledger holds (one per user and interval). */
export function billsChart(run: OksuzRun): Chart {
  const values: Datum[] = run.userChecks.map((c) => ({
    interval: `j=${c.interval}`,
    meter: c.meterIndex,
    bill: Number(c.postedBill),
    verified: c.verified,
  }));
  const intervals = [...new Set(run.userChecks.map((c) => c.interval))].sort((a, b) => a - b);
  const disputed = run.userChecks.filter((c) => !c.verified).length;
  return {
    id: "oksuz-bills",
    title: "Distribution of bills",
    caption:
      `${run.userChecks.length} bills (one per user and interval): bill = price × the user's reported Wh; ` +
      (disputed === 0
        ? "every user verified its own bill."
        : `${disputed} bills DISPUTED by their users.`),
    spec: {
      title: "Distribution of bills",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: {
          field: "bill",
          type: "quantitative",
          bin: { maxbins: 20 },
          title: "bill (price units)",
        },
        y: { aggregate: "count", type: "quantitative", title: "users (count)", axis: INTEGER_AXIS },
        color: {
          field: "interval",
          type: "nominal",
          title: "interval",
          sort: intervals.map((j) => `j=${j}`),
        },
      },
    },
    table: {
      header: ["j", "bills", "min", "median", "max", "Σ billed", "disputed"],
      rows: intervals.map((j) => {
        const checks = run.userChecks.filter((c) => c.interval === j);
        const bills = checks
          .map((c) => BigInt(c.postedBill))
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const summary = run.perInterval.find((s) => s.interval === j);
        return [
          String(j),
          String(bills.length),
          fmtInt(bills[0] ?? 0n),
          fmtInt(bills[(bills.length - 1) >> 1] ?? 0n),
          fmtInt(bills[bills.length - 1] ?? 0n),
          fmtInt(summary?.billedTotal ?? "0"),
          String(checks.filter((c) => !c.verified).length),
        ];
      }),
    },
  };
}

/** Entries per category value per interval: each value's anonymity set; the smallest is "min anon". */
export function anonymityChart(run: OksuzRun): Chart {
  const categories = run.categories;
  const values: Datum[] = run.perInterval.flatMap((s) =>
    categories.map((c) => ({
      interval: s.interval,
      value: `${c} Wh`,
      entries: s.entriesPerValue[c] ?? 0,
      minimum: (s.entriesPerValue[c] ?? 0) === s.minAnonymitySet,
    })),
  );
  const order = categories.map((c) => `${c} Wh`);
  const worst = Math.min(...run.perInterval.map((s) => s.minAnonymitySet));
  return {
    id: "oksuz-anonymity",
    title: "Anonymity set per category value",
    caption: `Each entry hides among the entries of its interval that carry the same value; the smallest bar of an interval is its "min anon" (run minimum: ${worst}).`,
    spec: {
      title: "Anonymity set per category value and interval",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: { field: "interval", type: "ordinal", title: "interval j", axis: { labelAngle: 0 } },
        xOffset: { field: "value", sort: order },
        y: {
          field: "entries",
          type: "quantitative",
          title: "entries with this value (count)",
          axis: INTEGER_AXIS,
        },
        color: {
          field: "value",
          type: "ordinal",
          sort: order,
          title: "category value",
          scale: { scheme: "viridis" },
        },
        stroke: {
          condition: { test: "datum.minimum && datum.entries > 0", value: "#d1352b" },
          value: null,
        },
        strokeWidth: { value: 2 },
      },
    },
    table: {
      header: ["value", ...run.perInterval.map((s) => `j=${s.interval}`)],
      rows: [
        ...categories.map((c) => [
          `${fmtInt(c)} Wh`,
          ...run.perInterval.map((s) => String(s.entriesPerValue[c] ?? 0)),
        ]),
        ["min anon", ...run.perInterval.map((s) => String(s.minAnonymitySet))],
      ],
    },
  };
}

/** Every message refused, by where and why: CC admission, the onion relays, the network. */
export function rejectedChart(run: OksuzRun): Chart {
  const cc = new Map<string, number>();
  for (const s of run.perInterval) {
    for (const [reason, k] of Object.entries(s.rejected)) cc.set(reason, (cc.get(reason) ?? 0) + k);
  }
  for (const [reason, k] of Object.entries(run.unattributedRejections)) {
    cc.set(reason, (cc.get(reason) ?? 0) + (k ?? 0));
  }
  const values: Datum[] = [
    ...[...cc].map(([reason, count]) => ({ stage: "control center", reason, count })),
    ...Object.entries(run.relays)
      .filter(([k]) => k.startsWith("dropped."))
      .map(([k, count]) => ({ stage: "onion relay", reason: k.slice("dropped.".length), count })),
    ...Object.entries(run.network.dropped).map(([reason, count]) => ({
      stage: "network",
      reason,
      count,
    })),
  ];
  const total = values.reduce((a, d) => a + (d.count as number), 0);
  const stages = ["control center", "onion relay", "network"];
  return {
    id: "oksuz-rejected",
    title: "Rejected messages by reason",
    caption:
      total === 0
        ? "No message was refused or lost anywhere (every count is 0); an attack run shows its bar here."
        : `${fmtInt(total)} messages refused or lost; CC's refusals name the admission check that failed.`,
    spec: {
      title: "Rejected messages by reason",
      width: PLOT.width - 120,
      height: { step: 15 },
      data: { values: values.map((d) => ({ ...d, label: `${d.stage}: ${d.reason}` })) },
      encoding: {
        y: {
          field: "label",
          type: "nominal",
          title: "where: reason",
          sort: null,
          axis: { labelLimit: 300 },
        },
        x: {
          field: "count",
          type: "quantitative",
          title: "messages (count)",
          axis: INTEGER_AXIS,
          scale: { domain: [0, Math.max(1, ...values.map((d) => d.count as number))] },
        },
      },
      layer: [
        {
          mark: { type: "bar", tooltip: true },
          encoding: {
            color: { field: "stage", type: "nominal", title: "refused by", sort: stages },
          },
        },
        {
          mark: { type: "text", align: "left", dx: 4, fontSize: 10, color: "#333" },
          encoding: { text: { field: "count", type: "quantitative" } },
        },
      ],
    },
    table: {
      header: ["refused by", "reason", "count"],
      rows: values
        .filter((d) => (d.count as number) > 0)
        .map((d) => [String(d.stage), String(d.reason), fmtInt(d.count as number)])
        .concat(total === 0 ? [["–", "none", "0"]] : []),
    },
  };
}

function relayIndex(address: string): number {
  const m = /(\d+)$/.exec(address);
  return m ? Number(m[1]) : -1;
}

/** Onion packets per relay: received, forwarded, and put on links (own reports + forwarded + cover). */
export function relayTrafficChart(run: OksuzRun): Chart {
  const relays = [...run.relayTraffic].sort((a, b) => relayIndex(a.relay) - relayIndex(b.relay));
  const sizes = run.network.packetSizes;
  const sizeNote =
    sizes.length === 1
      ? `every packet on every link was ${fmtInt(sizes[0])} bytes`
      : `packet sizes differ (${sizes.join(", ")} bytes): sizes leak`;
  const header = ["relay", "received", "forwarded", "cover", "dropped", "sent", "sizes (B)"];
  const sizesOf = (r: (typeof relays)[number]) => Object.keys(r.packetSizes).join(", ");
  const counts = (r: (typeof relays)[number]) => [
    r.received,
    r.forwarded,
    r.coverSent,
    r.dropped,
    r.packetsSent,
  ];
  // One row per relay up to MAX_RELAY_BARS; beyond, min / median / max / Σ per column.
  const table =
    relays.length <= MAX_RELAY_BARS
      ? { header, rows: relays.map((r) => [r.relay, ...counts(r).map(String), sizesOf(r)]) }
      : {
          header,
          rows: (["min", "median", "max", "Σ"] as const).map((stat) => [
            `${stat} of ${relays.length}`,
            ...[0, 1, 2, 3, 4].map((k) => {
              const column = relays.map((r) => counts(r)[k]).sort((a, b) => a - b);
              const value =
                stat === "min"
                  ? column[0]
                  : stat === "max"
                    ? column[column.length - 1]
                    : stat === "median"
                      ? column[(column.length - 1) >> 1]
                      : column.reduce((a, b) => a + b, 0);
              return fmtInt(value);
            }),
            [...new Set(relays.flatMap((r) => Object.keys(r.packetSizes)))].join(", "),
          ]),
        };
  if (relays.length > MAX_RELAY_BARS) {
    const values: Datum[] = relays.map((r) => ({ relay: r.relay, sent: r.packetsSent }));
    return {
      id: "oksuz-relays",
      title: "Onion traffic per relay",
      caption: `Packets each of the ${relays.length} relays put on links (a narrow histogram: no relay stands out); ${sizeNote}.`,
      spec: {
        title: "Onion packets sent per relay",
        width: PLOT.width,
        height: PLOT.height,
        data: { values },
        mark: { type: "bar", tooltip: true },
        encoding: {
          x: {
            field: "sent",
            type: "quantitative",
            bin: { maxbins: 30 },
            title: "packets sent by a relay (count)",
          },
          y: {
            aggregate: "count",
            type: "quantitative",
            title: "relays (count)",
            axis: INTEGER_AXIS,
          },
          color: { datum: "relays", type: "nominal", title: "" },
        },
      },
      table,
    };
  }
  const series = ["received", "forwarded", "sent on links"] as const;
  const values: Datum[] = relays.flatMap((r) => [
    { relay: r.relay, series: series[0], packets: r.received },
    { relay: r.relay, series: series[1], packets: r.forwarded },
    { relay: r.relay, series: series[2], packets: r.packetsSent },
  ]);
  return {
    id: "oksuz-relays",
    title: "Onion traffic per relay",
    caption: `Every meter relays for the others; "sent" adds its own reports and any cover loops. ${sizeNote[0].toUpperCase()}${sizeNote.slice(1)}.`,
    spec: {
      title: "Onion traffic per relay",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: {
          field: "relay",
          type: "ordinal",
          title: "relay (meter address)",
          sort: relays.map((r) => r.relay),
          axis: { labelAngle: -60, labelExpr: "replace(datum.label, 'meter-', '')" },
        },
        xOffset: { field: "series", sort: [...series] },
        y: {
          field: "packets",
          type: "quantitative",
          title: "onion packets (count)",
          axis: INTEGER_AXIS,
        },
        color: { field: "series", type: "nominal", sort: [...series], title: "packets" },
      },
    },
    table,
  };
}

/** Every packet on every link by size: one bar when all onions are the same size (DESIGN §4.6). */
export function packetSizeChart(run: OksuzRun): Chart {
  const bySize = new Map<string, number>();
  for (const r of run.relayTraffic) {
    for (const [size, k] of Object.entries(r.packetSizes))
      bySize.set(size, (bySize.get(size) ?? 0) + k);
  }
  const values: Datum[] = [...bySize]
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([size, packets]) => ({ size: `${fmtInt(size)} B`, bytes: Number(size), packets }));
  const total = values.reduce((a, d) => a + (d.packets as number), 0);
  return {
    id: "oksuz-packet-sizes",
    title: "Onion packet sizes on the wire",
    caption:
      values.length === 1
        ? `All ${fmtInt(total)} packets the relays sent had the same size, ${values[0].size}: an observer learns nothing from sizes.`
        : `Packets of ${values.length} different sizes were sent: sizes tell hops apart.`,
    spec: {
      title: "Onion packet sizes on the wire",
      width: 260,
      height: PLOT.height,
      data: { values },
      layer: [
        {
          mark: { type: "bar", tooltip: true, width: { band: 0.5 } },
          encoding: {
            x: {
              field: "size",
              type: "ordinal",
              title: "packet size (bytes)",
              axis: { labelAngle: 0 },
            },
            y: { field: "packets", type: "quantitative", title: "packets sent by relays (count)" },
            color: { datum: "onion packets", type: "nominal", title: "" },
          },
        },
        {
          mark: { type: "text", dy: -8, fontSize: 11 },
          encoding: {
            x: { field: "size", type: "ordinal" },
            y: { field: "packets", type: "quantitative" },
            text: { field: "packets", format: "," },
          },
        },
      ],
    },
    table: {
      header: ["size (bytes)", "packets"],
      rows: values.map((d) => [String(d.bytes), fmtInt(d.packets as number)]),
    },
  };
}

/** Gas per ledger operation: deployment and registration ("setup"), then each interval. */
export function gasChart(run: OksuzRun): Chart {
  const columns: { label: string; gas: Readonly<Record<string, string>> }[] = [
    { label: "setup", gas: run.setupGasByOperation },
    ...run.perInterval.map((s) => ({ label: `j=${s.interval}`, gas: s.gasByOperation })),
  ];
  const operations = [...new Set(columns.flatMap((c) => Object.keys(c.gas)))];
  const intervalOps = [...new Set(columns.slice(1).flatMap((c) => Object.keys(c.gas)))];
  const setupTotal = Object.values(run.setupGasByOperation).reduce((a, g) => a + BigInt(g), 0n);
  const values: Datum[] = columns.slice(1).flatMap((c) =>
    Object.entries(c.gas).map(([operation, gas]) => ({
      phase: c.label,
      operation,
      gas: Number(gas),
    })),
  );
  const perInterval = run.perInterval.map((s) => Number(s.gasUsed));
  return {
    id: "oksuz-gas",
    title: "Gas per ledger operation",
    caption: `What each interval's ledger functions cost: ${fmtInt(Math.min(...perInterval))}–${fmtInt(Math.max(...perInterval))} gas per interval (postOcd verifies every real entry's Schnorr signature on-chain; zero slots are cheap); set-up (deployment, registration, in the table) ${fmtInt(setupTotal)} gas.`,
    spec: {
      title: "Gas per ledger operation",
      width: PLOT.width,
      height: PLOT.height,
      data: { values },
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: {
          field: "phase",
          type: "ordinal",
          title: "interval j",
          sort: columns.slice(1).map((c) => c.label),
          axis: { labelAngle: 0 },
        },
        y: { field: "gas", type: "quantitative", title: "gas (units)", stack: "zero" },
        color: { field: "operation", type: "nominal", title: "ledger function", sort: intervalOps },
      },
    },
    table: {
      header: ["function", ...columns.map((c) => c.label)],
      rows: [
        ...operations.map((op) => [
          op,
          ...columns.map((c) => (c.gas[op] ? fmtInt(c.gas[op]) : "–")),
        ]),
        [
          "Σ",
          ...columns.map((c) => fmtInt(Object.values(c.gas).reduce((a, g) => a + BigInt(g), 0n))),
        ],
      ],
    },
  };
}

/** Every chart of the Oksuz section, in reading order. */
export function oksuzCharts(run: OksuzRun): Chart[] {
  return [
    loadChart(run),
    priceChart(run),
    billsChart(run),
    anonymityChart(run),
    rejectedChart(run),
    relayTrafficChart(run),
    packetSizeChart(run),
    gasChart(run),
  ];
}
