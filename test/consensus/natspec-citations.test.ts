// Every test file a contract's NatSpec or comment cites must exist (issue 15: two comments cited
// fuzz-test files that never existed, so a reader trusting them believed the code was fuzzed).
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

function solidityFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? solidityFiles(join(dir, e.name))
      : e.name.endsWith(".sol")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("NatSpec citations", () => {
  it("every test/… file cited in contracts/ exists", () => {
    const cited: string[] = [];
    for (const file of solidityFiles("contracts")) {
      for (const m of readFileSync(file, "utf8").matchAll(/test\/[\w/.-]+\.(?:t\.sol|test\.ts)/g)) {
        cited.push(`${file}: ${m[0]}`);
      }
    }
    expect(cited.length).to.be.greaterThan(0);
    const missing = cited.filter((c) => !existsSync(c.split(": ")[1]));
    expect(missing).to.deep.equal([]);
  });
});
