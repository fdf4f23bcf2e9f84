// Logger: levels, components, JSON rendering, progress rate limiting.
import { expect } from "chai";

import { VirtualClock } from "../../offchain/runtime/clock.ts";
import {
  counted,
  consoleLogger,
  LogError,
  MemoryLogger,
  Progress,
  silentLogger,
} from "../../offchain/runtime/log.ts";

describe("log", () => {
  it("counted: the noun in the number it takes", () => {
    expect(counted(1, "interval")).to.equal("1 interval");
    expect(counted(1n, "round")).to.equal("1 round");
    expect(counted(0, "interval")).to.equal("0 intervals");
    expect(counted(4, "interval")).to.equal("4 intervals");
    expect(counted(2, "entry", "entries")).to.equal("2 entries");
    expect(counted(1, "entry", "entries")).to.equal("1 entry");
  });

  it("MemoryLogger records level, component, message, fields and clock time", () => {
    const clock = new VirtualClock({ startMs: 42 });
    const log = new MemoryLogger("cc", clock, "info");
    log.debug("hidden");
    log.info("admitted", { interval: 3 });
    log.child("admission").warn("replay", { pseudonym: "ab" });
    expect(log.records).to.deep.equal([
      { timeMs: 42, level: "info", component: "cc", message: "admitted", fields: { interval: 3 } },
      {
        timeMs: 42,
        level: "warn",
        component: "cc:admission",
        message: "replay",
        fields: { pseudonym: "ab" },
      },
    ]);
  });

  it("consoleLogger writes JSON lines with bigint and bytes rendered", () => {
    const lines: string[] = [];
    const log = consoleLogger({
      component: "sim",
      json: true,
      level: "debug",
      write: (l) => lines.push(l),
      clock: new VirtualClock({ startMs: 7 }),
    });
    log.debug("x", { v: 10n ** 20n, b: new Uint8Array([1, 255]) });
    expect(JSON.parse(lines[0])).to.deep.equal({
      t: 7,
      level: "debug",
      component: "sim",
      msg: "x",
      v: "100000000000000000000",
      b: "01ff",
    });
  });

  it("consoleLogger text format filters below its level", () => {
    const lines: string[] = [];
    const log = consoleLogger({ component: "net", write: (l) => lines.push(l) });
    log.debug("no");
    log.error("boom", { code: 3 });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/ERROR \[net\] boom code=3$/);
  });

  it("silentLogger accepts everything and returns silent children", () => {
    silentLogger.error("nothing");
    expect(silentLogger.child("x").component).to.equal("x");
    expect(() => silentLogger.child("")).to.throw(LogError);
  });

  it("Progress reports at most once per everyMs with percent and ETA", () => {
    const clock = new VirtualClock();
    const logger = new MemoryLogger("", clock);
    const p = new Progress({ label: "intervals", total: 100, everyMs: 1000 }, { logger, clock });
    for (let i = 0; i < 50; i++) {
      clock.advance(100); // 50 ticks over 5 s → 5 reports
      p.tick();
    }
    expect(logger.records).to.have.length(5);
    const last = logger.records.at(-1)!;
    expect(last.fields).to.include({ count: 50, total: 100, percent: 50, perSecond: 10 });
    expect(last.fields.etaMs).to.equal(5000);
    p.done();
    expect(logger.records.at(-1)!.message).to.equal("intervals done");
  });
});
