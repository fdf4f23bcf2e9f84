// Writes a kit to disk all at once (I/O edge of offchain/besu): every file goes into a fresh
// temporary directory beside the target, which is renamed into place only when complete, so a
// failure leaves nothing half-written (DESIGN §2 "Besu"; docs/BESU.md "Errors").
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";

import { makeDirectory } from "../runtime/fs.ts";
import { BesuKitOutputError, BesuKitOutputExistsError } from "./errors.ts";
import type { KitManifest, KitFile } from "./kit.ts";

/** The file every kit has (`kit.json`): what `--force` looks for before it replaces a directory. */
const KIT_MANIFEST = "kit.json";

/** Whether `manifest` is a kit manifest this command wrote (`"kit": "gridledger-besu-network"`). */
function isKit(manifest: string): boolean {
  try {
    const m = JSON.parse(readFileSync(manifest, "utf8")) as { kit?: unknown } | null;
    return m?.kit === ("gridledger-besu-network" satisfies KitManifest["kit"]);
  } catch {
    return false; // absent, unreadable or not JSON: not a kit
  }
}

/**
 * Checks that `outDir` may be written: absent, an empty directory, or (with `force`) a kit written
 * before (a directory whose `kit.json` says `"kit": "gridledger-besu-network"`). Throws BesuKitOutputError for an empty path (Node
 * resolves "" to the working directory: `--out "$UNSET" --force` replaced it), and
 * BesuKitOutputExistsError for a file, a non-empty directory without `force`, and, even with
 * `force`, a directory that is not a kit or that holds the working directory.
 */
export function checkOutputDir(outDir: string, force: boolean): void {
  if (outDir.trim() === "")
    throw new BesuKitOutputError("--out is empty: give the kit's directory");
  const out = resolve(outDir);
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) {
    throw new BesuKitOutputExistsError(`--out ${outDir} exists and is not a directory`);
  }
  if (readdirSync(out).length === 0) return;
  if (!force) {
    throw new BesuKitOutputExistsError(
      `--out ${outDir} exists and is not empty (--force replaces it if it is a kit written before)`,
    );
  }
  const here = resolve(".");
  if (here === out || here.startsWith(out.endsWith(sep) ? out : out + sep)) {
    throw new BesuKitOutputExistsError(
      `--out ${outDir} holds the working directory: --force will not replace it`,
    );
  }
  if (!isKit(join(out, KIT_MANIFEST))) {
    throw new BesuKitOutputExistsError(
      `--out ${outDir} is not a kit (no ${KIT_MANIFEST} of besu-network's): --force replaces only a kit written before`,
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
