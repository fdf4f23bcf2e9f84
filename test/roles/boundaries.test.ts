// Module boundaries of the Oksuz roles (issue 11; ../shared/STYLE.md "Who owns what"): `protocol/`
// owns the rules, `chain/` the ABIs and transactions, and a role gets a chain client injected. No
// module under offchain/{cc,sp,meter,user,onion} may import `chain/`, ethers or Hardhat, whatever
// the import form (static, side-effect, dynamic, re-export).
import { expect } from "chai";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ROLE_FOLDERS = ["cc", "sp", "meter", "user", "onion"] as const;
const FORBIDDEN_PACKAGES = /^(ethers|hardhat|@nomicfoundation\/)/;

/** Every module specifier a TypeScript source imports or re-exports. */
function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;'"]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

/** The specifiers of `file` (absolute) that reach offchain/chain/ or a chain package. */
function forbiddenImports(file: string, source: string): string[] {
  const chainDir = join(ROOT, "offchain", "chain") + sep;
  return importSpecifiers(source).filter((spec) =>
    spec.startsWith(".")
      ? resolve(dirname(file), spec).startsWith(chainDir)
      : FORBIDDEN_PACKAGES.test(spec),
  );
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

describe("role module boundaries", function () {
  it("the detector sees every import form of chain/ (so the scan below can fail)", function () {
    const file = join(ROOT, "offchain", "cc", "x.ts");
    const source = [
      `import { a } from "../chain/billing.ts";`,
      `import type { B } from '../chain/ledgerReader.ts';`,
      `import {\n  c,\n  d,\n} from "../chain/tx.ts";`,
      `export { e } from "../chain/deploy.ts";`,
      `import "../chain/provider.ts";`,
      `const m = await import("../chain/errors.ts");`,
      `import { Contract } from "ethers";`,
      `import { f } from "../protocol/billing.ts";`,
    ].join("\n");
    expect(forbiddenImports(file, source)).to.deep.equal([
      "../chain/billing.ts",
      "../chain/ledgerReader.ts",
      "../chain/tx.ts",
      "../chain/deploy.ts",
      "ethers",
      "../chain/provider.ts",
      "../chain/errors.ts",
    ]);
  });

  it("no role folder imports chain/, ethers or Hardhat (they get a chain client injected)", function () {
    const offenders: string[] = [];
    for (const folder of ROLE_FOLDERS) {
      for (const file of walk(join(ROOT, "offchain", folder))) {
        for (const spec of forbiddenImports(file, readFileSync(file, "utf8"))) {
          offenders.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});
