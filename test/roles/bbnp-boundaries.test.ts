// Issue 11 "Protocol owns the rules, chain/ owns the ABIs": the BBNP roles (gateway, consensus,
// bbnp-user, ta) and the adversary wrappers import nothing from offchain/chain/ (nor ethers): their
// chain access is a client interface they declare and a composition root injects
// (offchain/sim/bbnp.ts, offchain/node/roles/). The same check for the Oksuz roles lives in its own
// file (another engineer's).
import { expect } from "chai";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
const ROLE_DIRS = ["gateway", "consensus", "bbnp-user", "ta", "adversary"];

function sources(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports (static `from "x"`, side-effect `import "x"`, `import("x")`). */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) specs.push(m[1]);
  return specs;
}

/** The forbidden imports of one role file: anything under offchain/chain/, and ethers itself. */
export function forbiddenImports(file: string, text: string): string[] {
  return importsOf(text).filter((s) => {
    if (s === "ethers" || s.startsWith("ethers/")) return true;
    if (!s.startsWith(".")) return false;
    const target = relative(join(ROOT, "offchain"), join(file, "..", s));
    return target === "chain" || target.startsWith("chain/") || target.startsWith("chain\\");
  });
}

describe("BBNP role boundaries: roles never import chain/", () => {
  it("the checker finds every import form (it can fail)", () => {
    const file = join(ROOT, "offchain", "gateway", "x.ts");
    const text = [
      'import { a } from "../chain/aggregation.ts";',
      'import type { B } from "../chain/errors.ts";',
      'import "../chain/provider.ts";',
      'const c = await import("../chain/tx.ts");',
      'import { Contract } from "ethers";',
      'import { ok } from "../protocol/aggregation.ts";',
      'import { chainLike } from "./chain-like.ts";',
    ].join("\n");
    expect(forbiddenImports(file, text)).to.deep.equal([
      "../chain/aggregation.ts",
      "../chain/errors.ts",
      "../chain/provider.ts",
      "../chain/tx.ts",
      "ethers",
    ]);
  });

  for (const dir of ROLE_DIRS) {
    it(`offchain/${dir}/ imports nothing from offchain/chain/ or ethers`, () => {
      const files = sources(join(ROOT, "offchain", dir));
      if (dir !== "adversary") expect(files.length, `no sources in offchain/${dir}`).to.be.above(0);
      const bad: string[] = [];
      for (const f of files) {
        for (const s of forbiddenImports(f, readFileSync(f, "utf8"))) {
          bad.push(`${relative(ROOT, f)} imports ${s}`);
        }
      }
      expect(bad).to.deep.equal([]);
    });
  }
});
