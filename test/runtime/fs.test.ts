// makeDirectory (offchain/runtime/fs.ts): creates missing levels, and fails at once where Node's
// recursive mkdir spins for ever (`--report /proc/x` hung the demo at 100 % CPU).
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { makeDirectory } from "../../offchain/runtime/fs.ts";

describe("runtime/fs makeDirectory", () => {
  it("creates every missing level, and is a no-op on an existing directory", () => {
    const root = mkdtempSync(join(tmpdir(), "gridledger-fs-"));
    try {
      const deep = join(root, "a", "b", "c");
      expect(makeDirectory(deep)).to.deep.equal([
        join(root, "a"),
        join(root, "a", "b"),
        join(root, "a", "b", "c"),
      ]);
      expect(statSync(deep).isDirectory()).to.equal(true);
      expect(makeDirectory(deep)).to.deep.equal([]);
      const file = join(root, "file");
      writeFileSync(file, "");
      expect(() => makeDirectory(join(file, "x")))
        .to.throw()
        .with.property("code", "ENOTDIR");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("fails at once under /proc instead of looping (regression)", function () {
    if (!existsSync("/proc/self")) this.skip();
    const started = Date.now();
    expect(() => makeDirectory("/proc/gridledger-no-such/x")).to.throw();
    expect(Date.now() - started).to.be.lessThan(1_000);
  });
});
