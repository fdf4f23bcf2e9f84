// `gridledger verify-bill`: a user checks its own bills against any JSON-RPC node (Oksuz 2020 §5
// "Bill calculation", Remark 5; DESIGN §6): it rebuilds each interval from the ledger's events
// (chain/ledgerReader.ts `readIntervalFromUrl`) and runs the user module's check (user/user.ts
// `User.verifyInterval`) with the pseudonyms its meter delivered, read from a pseudonym file
// (format: docs/PROTOCOL.md "Pseudonym file"). Exit 0 when every bill verifies, 1 when one does
// not (disputes printed) or the chain fails, 2 for bad input (one line, named).
import { readFileSync } from "node:fs";

import type { Command } from "commander";
import { getAddress, isAddress } from "ethers";

import { connectBillingLedger, readDomain } from "../chain/billing.ts";
import { ChainError, ContractRevertError, chainCall, toChainError } from "../chain/errors.ts";
import { readIntervalFromUrl } from "../chain/ledgerReader.ts";
import { connectJsonRpc } from "../chain/provider.ts";
import { bytesToHex, equalBytes, hexToBytes, toHex0x } from "../crypto/bytes.ts";
import { identityOf, keyPairFromSecret } from "../crypto/keys.ts";
import { checkSlotDispute } from "../protocol/dispute.ts";
import {
  USER_BATCH_SLOT_SIZE,
  decodeUserBatch,
  encodeUserBatch,
  type UserBatchSlot,
} from "../protocol/user-batch.ts";
import { User, type UserIntervalCheck } from "../user/user.ts";
import { printTable } from "./common.ts";

const PROGRAM = "gridledger verify-bill";
/** Environment variable holding the user's secret key (direct mode only). */
export const USER_KEY_ENV = "GRIDLEDGER_USER_KEY";

/** The pseudonym file is unreadable or malformed. */
export class PseudonymFileError extends Error {
  override name = "PseudonymFileError";
}

/** A command-line option is malformed. */
export class VerifyBillOptionError extends Error {
  override name = "VerifyBillOptionError";
}

/** What a user keeps from its meter and its contract with SP (docs/PROTOCOL.md). */
export interface PseudonymFile {
  readonly meterIndex: number;
  /** The meter's signing base key `B_i` (33 bytes compressed), from pairing (DESIGN §4.2). */
  readonly meterBasePublicKey: Uint8Array;
  /** SP's registered signing key `sigPk_SP`, 33 bytes compressed. */
  readonly spSigPk: Uint8Array;
  /**
   * Interval → the batch the meter delivered for it (DESIGN §7): its K slots, each the
   * meter-signed entry (pseudonym, value, T, key, signature) and the slot's tweak t.
   */
  readonly intervals: ReadonlyMap<number, readonly UserBatchSlot[]>;
  /**
   * Direct mode (paper §6): SP's `pk_SP` and the household's own public key `pk_U` (33 bytes
   * compressed each); the user's secret key comes from `USER_KEY_ENV` and must match `pk_U`.
   */
  readonly direct?: { readonly spPublicKey: Uint8Array; readonly userPublicKey: Uint8Array };
}

function hexField(value: unknown, bytes: number, where: string): Uint8Array {
  if (typeof value !== "string" || !new RegExp(`^0x[0-9a-fA-F]{${2 * bytes}}$`).test(value)) {
    throw new PseudonymFileError(`${where} must be 0x + ${2 * bytes} hex digits`);
  }
  return hexToBytes(value.slice(2));
}

function isU32(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

/**
 * The JSON form of a pseudonym file (version 2, docs/PROTOCOL.md "Pseudonym file"): keys and
 * batches as 0x-hex, intervals ascending. `parsePseudonymFile(formatPseudonymFile(f))` gives `f`
 * back. Throws `RangeError` (from the batch encoder) on a malformed slot.
 */
export function formatPseudonymFile(file: PseudonymFile): Record<string, unknown> {
  const intervals: Record<string, string> = {};
  for (const j of [...file.intervals.keys()].sort((a, b) => a - b)) {
    intervals[String(j)] = toHex0x(encodeUserBatch(file.intervals.get(j)!));
  }
  return {
    version: 2,
    meterIndex: file.meterIndex,
    meterBasePublicKey: toHex0x(file.meterBasePublicKey),
    spSigPk: toHex0x(file.spSigPk),
    intervals,
    ...(file.direct
      ? {
          direct: {
            spPublicKey: toHex0x(file.direct.spPublicKey),
            userPublicKey: toHex0x(file.direct.userPublicKey),
          },
        }
      : {}),
  };
}

/**
 * Checks a parsed pseudonym file (version 2). Throws `PseudonymFileError` naming the field: a
 * wrong version, a missing or malformed key, an interval that is not a u32, a batch that is not
 * K × 170 bytes or does not decode (offchain/protocol/user-batch.ts), an entry of another
 * interval, a pseudonym listed twice, unknown top-level fields.
 */
export function parsePseudonymFile(json: unknown, name = "pseudonym file"): PseudonymFile {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new PseudonymFileError(`${name}: expected a JSON object`);
  }
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (
      !["version", "meterIndex", "meterBasePublicKey", "spSigPk", "intervals", "direct"].includes(k)
    ) {
      throw new PseudonymFileError(`${name}: unknown field "${k}"`);
    }
  }
  if (o.version !== 2) throw new PseudonymFileError(`${name}: version must be 2`);
  if (!isU32(o.meterIndex)) throw new PseudonymFileError(`${name}: meterIndex must be a u32`);
  const compressed = (field: string): Uint8Array => {
    const key = hexField(o[field], 33, `${name}: ${field}`);
    if (key[0] !== 2 && key[0] !== 3) {
      throw new PseudonymFileError(`${name}: ${field} must be a compressed key (02/03 prefix)`);
    }
    return key;
  };
  const meterBasePublicKey = compressed("meterBasePublicKey");
  const spSigPk = compressed("spSigPk");
  if (o.intervals === null || typeof o.intervals !== "object" || Array.isArray(o.intervals)) {
    throw new PseudonymFileError(`${name}: intervals must be an object interval → batch`);
  }
  const intervals = new Map<number, UserBatchSlot[]>();
  const seen = new Set<string>();
  for (const [key, batch] of Object.entries(o.intervals as Record<string, unknown>)) {
    const j = Number(key);
    if (!/^\d+$/.test(key) || !isU32(j)) {
      throw new PseudonymFileError(`${name}: interval "${key}" is not a u32`);
    }
    const size = typeof batch === "string" ? (batch.length - 2) / 2 : NaN;
    if (!Number.isInteger(size) || size === 0 || size % USER_BATCH_SLOT_SIZE !== 0) {
      throw new PseudonymFileError(
        `${name}: intervals.${key} must be 0x + a user batch of K × ${USER_BATCH_SLOT_SIZE} bytes`,
      );
    }
    let slots: UserBatchSlot[];
    try {
      slots = decodeUserBatch(
        hexField(batch, size, `${name}: intervals.${key}`),
        size / USER_BATCH_SLOT_SIZE,
      );
    } catch (e) {
      if (e instanceof PseudonymFileError) throw e;
      throw new PseudonymFileError(`${name}: intervals.${key}: ${(e as Error).message}`);
    }
    for (const slot of slots) {
      const hex = bytesToHex(slot.entry.id);
      if (seen.has(hex)) throw new PseudonymFileError(`${name}: pseudonym 0x${hex} listed twice`);
      if (slot.entry.interval !== j) {
        throw new PseudonymFileError(
          `${name}: intervals.${key} holds an entry of interval ${slot.entry.interval}`,
        );
      }
      seen.add(hex);
    }
    intervals.set(j, slots);
  }
  if (intervals.size === 0) throw new PseudonymFileError(`${name}: no intervals`);
  let direct: PseudonymFile["direct"];
  if (o.direct !== undefined) {
    const d = o.direct as Record<string, unknown> | null;
    if (d === null || typeof d !== "object") {
      throw new PseudonymFileError(`${name}: direct must be an object`);
    }
    direct = {
      spPublicKey: hexField(d.spPublicKey, 33, `${name}: direct.spPublicKey`),
      userPublicKey: hexField(d.userPublicKey, 33, `${name}: direct.userPublicKey`),
    };
  }
  return { meterIndex: o.meterIndex, meterBasePublicKey, spSigPk, intervals, direct };
}

/** Reads and checks a pseudonym file; throws `PseudonymFileError`. */
export function readPseudonymFile(path: string): PseudonymFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new PseudonymFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PseudonymFileError(`${path}: not JSON (${(e as Error).message})`);
  }
  return parsePseudonymFile(json, path);
}

export interface VerifyBillsInput {
  readonly rpc: string;
  readonly ledger: string;
  readonly file: PseudonymFile;
  /** Only this interval (default: every interval of the file, ascending). */
  readonly interval?: number;
  /** The user's secret key (direct mode). */
  readonly userSecretKey?: bigint;
}

/** One interval's check, with a third party's verdict on each slot dispute's evidence. */
export interface BillCheck extends UserIntervalCheck {
  /**
   * `checkSlotDispute` of each `slotDisputes[k]` (DESIGN §7): true when the evidence holds
   * against the ledger, false when it would convince nobody — the file's slot is not what the
   * meter signed under `B_i + t·G` (a damaged or edited pseudonym file, not a fault of CC).
   */
  readonly evidenceHolds: readonly boolean[];
}

/**
 * Checks the user's bills of the requested intervals from the chain at `rpc`. Throws
 * `VerifyBillOptionError` (an interval not in the file, direct mode without a key) and
 * `ChainError`s (unreachable node, no ledger at the address).
 */
export async function verifyBills(input: VerifyBillsInput): Promise<BillCheck[]> {
  const { file } = input;
  const intervals =
    input.interval === undefined
      ? [...file.intervals.keys()].sort((a, b) => a - b)
      : [input.interval];
  if (input.interval !== undefined && !file.intervals.has(input.interval)) {
    throw new VerifyBillOptionError(`--interval ${input.interval} is not in the pseudonym file`);
  }
  let direct: ConstructorParameters<typeof User>[0]["direct"];
  if (file.direct !== undefined) {
    if (input.userSecretKey === undefined) {
      throw new VerifyBillOptionError(
        `direct mode: ${USER_KEY_ENV} must hold the user's secret key (0x + 64 hex digits)`,
      );
    }
    let keys;
    try {
      keys = keyPairFromSecret(input.userSecretKey);
    } catch {
      throw new VerifyBillOptionError(`${USER_KEY_ENV} is not a valid secp256k1 secret key`);
    }
    // Another household's key would find that household's DAP entry (same price) and "verify":
    // the file names whose bill this is, so a key that is not its `pk_U` is refused (bad input).
    if (!equalBytes(keys.publicKey, file.direct.userPublicKey)) {
      throw new VerifyBillOptionError(
        `${USER_KEY_ENV} is not this household's key: its public key differs from direct.userPublicKey in the pseudonym file`,
      );
    }
    direct = {
      keys,
      spPublicKey: file.direct.spPublicKey,
      spId: identityOf(file.direct.spPublicKey),
    };
  }
  const { provider } = await connectJsonRpc(input.rpc);
  let domain: Uint8Array;
  try {
    // A well-formed address that holds no BillingLedger is bad input, not a dispute (exit 2).
    if ((await chainCall(() => provider.getCode(input.ledger))) === "0x") {
      throw new VerifyBillOptionError(`--ledger ${input.ledger}: no contract at this address`);
    }
    try {
      domain = await readDomain(connectBillingLedger(input.ledger, provider));
    } catch (err) {
      const e = toChainError(err);
      if (e instanceof ChainError && !(e instanceof ContractRevertError)) throw e;
      throw new VerifyBillOptionError(`--ledger ${input.ledger} is not a BillingLedger`);
    }
  } finally {
    provider.destroy();
  }
  const user = new User({
    meterIndex: file.meterIndex,
    domain,
    meterBasePublicKey: file.meterBasePublicKey,
    spSigPk: file.spSigPk,
    direct,
  });
  const checks: BillCheck[] = [];
  for (const j of intervals) {
    user.receiveBatch(j, file.intervals.get(j)!);
    const check = user.verifyInterval(await readIntervalFromUrl(input.rpc, input.ledger, j));
    checks.push({
      ...check,
      evidenceHolds: check.slotDisputes.map((d) => checkSlotDispute(domain, d)),
    });
  }
  return checks;
}

function fail(e: Error, code: number): never {
  console.error(`${PROGRAM}: ${e.name}: ${e.message}`);
  process.exit(code);
}

/** Registers `verify-bill` on the `gridledger` program. */
export function registerVerifyBill(program: Command): void {
  program
    .command("verify-bill")
    .description("Check your bills against any JSON-RPC node, from your pseudonym file")
    .requiredOption("--rpc <url>", "JSON-RPC URL of any node of the chain")
    .requiredOption("--ledger <address>", "BillingLedger address")
    .requiredOption("--pseudonyms <file>", "pseudonym file (docs/PROTOCOL.md)")
    .option("--interval <j>", "check only interval j (default: every interval in the file)")
    .action(
      async (opts: { rpc: string; ledger: string; pseudonyms: string; interval?: string }) => {
        let input: VerifyBillsInput;
        try {
          if (opts.rpc.trim() === "") throw new VerifyBillOptionError("--rpc must not be empty");
          if (!isAddress(opts.ledger)) {
            throw new VerifyBillOptionError(
              `--ledger must be an address (0x + 40 hex digits), got "${opts.ledger}"`,
            );
          }
          let interval: number | undefined;
          if (opts.interval !== undefined) {
            interval = Number(opts.interval);
            if (!/^\d+$/.test(opts.interval) || !isU32(interval)) {
              throw new VerifyBillOptionError(`--interval must be a u32, got "${opts.interval}"`);
            }
          }
          const keyHex = process.env[USER_KEY_ENV];
          if (keyHex !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(keyHex)) {
            throw new VerifyBillOptionError(`${USER_KEY_ENV} must be 0x + 64 hex digits`);
          }
          input = {
            rpc: opts.rpc,
            ledger: getAddress(opts.ledger.toLowerCase()),
            file: readPseudonymFile(opts.pseudonyms),
            interval,
            userSecretKey: keyHex === undefined ? undefined : BigInt(keyHex),
          };
        } catch (e) {
          if (e instanceof VerifyBillOptionError || e instanceof PseudonymFileError) fail(e, 2);
          throw e;
        }
        let checks: BillCheck[];
        try {
          checks = await verifyBills(input);
        } catch (e) {
          if (e instanceof VerifyBillOptionError) fail(e, 2);
          const chainError = toChainError(e);
          if (chainError instanceof ChainError) fail(chainError, 1);
          throw e;
        }
        printChecks(checks);
        if (checks.some((c) => !c.verified)) process.exit(1);
      },
    );
}

function printChecks(checks: readonly BillCheck[]): void {
  const header = ["interval", "entries", "missing", "Wh", "price", "my bill", "posted", "result"];
  const rows = checks.map((c) => [
    String(c.interval),
    String(c.entries),
    String(c.missing),
    String(c.consumptionWh),
    c.price === undefined ? "-" : String(c.price),
    String(c.expectedBill),
    String(c.postedBill),
    c.verified ? "verified" : "DISPUTED",
  ]);
  printTable(header, rows);
  for (const c of checks) {
    for (const d of c.disputes) console.log(`interval ${c.interval}: ${d}`);
    c.slotDisputes.forEach((d, k) => {
      console.log(
        `interval ${c.interval}: slot ${d.pseudonym.slice(0, 12)}… ${d.reason}: ` +
          (c.evidenceHolds[k]
            ? "evidence holds (meter-signed slot, B_i, t: checkSlotDispute)"
            : "evidence does NOT hold: the file's slot is not signed by the meter under B_i + t·G"),
      );
    });
  }
}
