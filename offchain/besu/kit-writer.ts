// Writes a kit to disk all at once (I/O edge of offchain/besu): every file goes into a fresh
// temporary directory beside the target, which is renamed into place only when complete, so a
// failure leaves nothing half-written (DESIGN §2 "Besu"; docs/BESU.md "Errors").
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

import { makeDirectory } from "../runtime/fs.ts";
import { BesuKitOutputError, BesuKitOutputExistsError } from "./errors.ts";
import type { KitFile } from "./kit.ts";

/**
 * Checks that `outDir` may be written: absent, an empty directory, or (with `force`) any directory.
 * Throws BesuKitOutputExistsError otherwise (also when it is a file).
 */
export function checkOutputDir(outDir: string, force: boolean): void {
  const out = resolve(outDir);
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) {
    throw new BesuKitOutputExistsError(`--out ${outDir} exists and is not a directory`);
  }
  if (!force && readdirSync(out).length > 0) {
    throw new BesuKitOutputExistsError(
      `--out ${outDir} exists and is not empty (use --force to replace it)`,
    );
  }
}

/**
 * Writes `files` under `outDir` (replacing it with `force`). Throws BesuKitOutputExistsError as
 * {@link checkOutputDir}; on any I/O failure the temporary directory is removed and `outDir` is
 * left as it was.
 */
export function writeKit(files: readonly KitFile[], outDir: string, force: boolean): string {
  checkOutputDir(outDir, force);
  const out = resolve(outDir);
  const parent = dirname(out);
  let staging: string;
  try {
    makeDirectory(parent);
    staging = mkdtempSync(join(parent, `.${basename(out)}.tmp-`));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new BesuKitOutputError(`--out ${outDir}: cannot create the kit there (${code})`);
  }
  try {
    for (const file of files) {
      const path = join(staging, file.path);
      if (!path.startsWith(staging + "/"))
        throw new Error(`writeKit: ${file.path} escapes the kit`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, file.content, { mode: file.mode });
      chmodSync(path, file.mode); // the umask may have cleared bits of `mode`
    }
    if (existsSync(out)) {
      const old = mkdtempSync(join(parent, `.${basename(out)}.old-`));
      renameSync(out, join(old, "kit"));
      try {
        renameSync(staging, out);
      } catch (err) {
        renameSync(join(old, "kit"), out);
        throw err;
      }
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(staging, out);
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  return out;
}
