// The shared read-only test data (`shared/` beside the clone, as laid out in CI). A checkout that
// is not beside it (e.g. a git worktree elsewhere) points GRIDLEDGER_SHARED at the shared folder.
// A missing folder fails the test that needs it: vectors are never optional.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of `relative` under shared/ (e.g. "vectors/meters/emh-sml-1.hex"). */
export function sharedPath(relative: string): string {
  const root =
    process.env.GRIDLEDGER_SHARED ?? fileURLToPath(new URL("../../../shared/", import.meta.url));
  const path = join(root, relative);
  if (!existsSync(path)) {
    throw new Error(
      `shared test data ${path} not found: put shared/ beside the clone or set GRIDLEDGER_SHARED`,
    );
  }
  return path;
}
