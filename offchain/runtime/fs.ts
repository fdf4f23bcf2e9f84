// File-system helpers shared by the CLIs' output paths.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * Creates directory `path` and its missing parents one level at a time (each `mkdirSync` without
 * `recursive`). Node's recursive mkdir loops forever under some pseudo file systems (`/proc/x`
 * spins at 100 % CPU on Node 20 and 22); one level at a time fails at once with the OS error.
 * Throws the `fs` error (`code` ENOENT, EACCES, EEXIST, ENOTDIR…) of the first level that fails.
 * Returns the directories it created, outermost first (empty when `path` existed).
 */
export function makeDirectory(path: string): string[] {
  const missing: string[] = [];
  let p = resolve(path);
  while (!existsSync(p)) {
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  if (existsSync(p) && !statSync(p).isDirectory()) {
    throw Object.assign(new Error(`${p} is not a directory`), { code: "ENOTDIR" });
  }
  missing.reverse();
  for (const dir of missing) mkdirSync(dir);
  return missing;
}
