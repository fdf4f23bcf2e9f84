// Shared by the Besu kit tests (exports only): a kit built from a seeded random source and the
// compiled ReputationRegistry, and its files by path.
import { readRegistryBuild } from "../../offchain/besu/artifacts.ts";
import {
  BESU_KIT_DEFAULTS,
  buildBesuKit,
  type BesuKit,
  type BesuKitInit,
} from "../../offchain/besu/kit.ts";
import { createRng } from "../../offchain/runtime/rng.ts";

export interface TestKit extends BesuKit {
  /** File content by path relative to the kit root. */
  readonly file: (path: string) => string;
  readonly paths: ReadonlySet<string>;
}

/** A kit with `overrides` on the defaults, keys from the seed `seed`. */
export function testKit(overrides: Partial<BesuKitInit> = {}, seed = "besu-kit"): TestKit {
  const rng = createRng(seed);
  const kit = buildBesuKit(
    { ...BESU_KIT_DEFAULTS, ...overrides },
    { random: (n) => rng.bytes(n), registry: readRegistryBuild() },
  );
  const byPath = new Map(kit.files.map((f) => [f.path, f.content]));
  return {
    ...kit,
    paths: new Set(byPath.keys()),
    file(path) {
      const content = byPath.get(path);
      if (content === undefined) throw new Error(`testKit: no file ${path} in the kit`);
      return content;
    },
  };
}
