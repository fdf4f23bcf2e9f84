// Issue 11 "Each holds only its own secrets": nothing but the gateway may hold s_g. This test fails
// if any module under offchain/ or scripts/ reads the gateway's secret — the trusted authority's
// `gatewaySecret` output, a `gatewaySecretKey` field, or the service secret "gateway-key" — other
// than the gateway itself (offchain/gateway/, its composition root offchain/node/roles/gateway.ts),
// the trusted authority (offchain/ta/) and the set-up tools that run the TA and hand s_g to the
// gateway only (offchain/node/roles/bbnp-setup.ts; the in-process wirings offchain/sim/bbnp.ts and
// offchain/bench/suites/bbnp.ts, which play the TA's offline set-up in one process).
import { expect } from "chai";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

/** Where s_g may be read (directories end with "/"). */
const ALLOWED = [
  "offchain/gateway/",
  "offchain/ta/",
  "offchain/node/roles/gateway.ts",
  "offchain/node/roles/bbnp-setup.ts",
  "offchain/sim/bbnp.ts",
  "offchain/bench/suites/bbnp.ts",
];

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
    else if (/\.(ts|js|mjs|cjs)$/.test(p)) out.push(p);
  }
  return out;
}

/** Source text without comments (a docstring may name s_g; code may not read it). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** The reads of the gateway secret in one file's text, as the matched tokens. */
export function gatewaySecretReads(text: string): string[] {
  const re = /\bgatewaySecret(?:Key)?\b|["'`]gateway-key["'`]/g;
  return code(text).match(re) ?? [];
}

function allowed(path: string): boolean {
  return ALLOWED.some((a) => (a.endsWith("/") ? path.startsWith(a) : path === a));
}

describe("gateway secret s_g: held by the gateway only", () => {
  it("the checker finds every read form and ignores comments (it can fail)", () => {
    const text = [
      "const sk = keys.gatewaySecret;",
      "const { gatewaySecret } = setup;",
      "new RoundDriver({ gatewaySecretKey: sk });",
      'const s = env.secret("gateway-key");',
      "const t = env.secret(`gateway-key`);",
      "// keys.gatewaySecret in a comment is fine",
      "/* gatewaySecretKey: also fine */",
      "const pk = keys.params.gatewayPublicKey;",
    ].join("\n");
    expect(gatewaySecretReads(text)).to.deep.equal([
      "gatewaySecret",
      "gatewaySecret",
      "gatewaySecretKey",
      '"gateway-key"',
      "`gateway-key`",
    ]);
  });

  it("every allowed path exists (the allow-list does not go stale)", () => {
    for (const a of ALLOWED) {
      expect(() => statSync(join(ROOT, a)), a).to.not.throw();
    }
  });

  it("no module outside the gateway, the TA and the set-up tools reads s_g", () => {
    const bad: string[] = [];
    for (const dir of ["offchain", "scripts"]) {
      for (const f of sources(join(ROOT, dir))) {
        const path = relative(ROOT, f).split(sep).join("/");
        if (allowed(path)) continue;
        const reads = gatewaySecretReads(readFileSync(f, "utf8"));
        if (reads.length > 0) bad.push(`${path}: ${[...new Set(reads)].join(", ")}`);
      }
    }
    expect(bad).to.deep.equal([]);
  });
});
