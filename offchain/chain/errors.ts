// Named errors for everything a chain can do to a caller (docs/errors.md "Chain errors"), decoded
// from what the node returns, never from a client's message text: a contract revert is decoded
// from its revert data with the project contracts' ABIs (custom error name and arguments), so the
// same code works on the embedded chain, `hardhat node` and Besu, whose messages all differ.
import { existsSync, readFileSync } from "node:fs";

import { ErrorFragment, Interface, type InterfaceAbi, type Result } from "ethers";

/** Base class of every chain failure; `message` is one line. */
export class ChainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A contract refused the call or transaction: `errorName(args)` decoded from the revert data. */
export class ContractRevertError extends ChainError {
  /** Custom error name (`BillingLedgerInvalidEntry`), `Error` for `require` strings, `Panic`. */
  readonly errorName: string;
  /** Decoded arguments, as plain values (bigints for integers). */
  readonly args: readonly unknown[];
  /** The raw revert data (`0x…`), `0x` when the node returned none. */
  readonly data: string;
  constructor(errorName: string, args: readonly unknown[], data: string) {
    super(`contract reverted: ${errorName}(${args.map(formatArg).join(", ")})`);
    this.errorName = errorName;
    this.args = args;
    this.data = data;
  }
  /** `true` iff this is `name`, and (if given) the first arguments equal `args`. */
  is(name: string, ...args: readonly unknown[]): boolean {
    if (this.errorName !== name) return false;
    return args.every((a, i) => String(this.args[i]) === String(a));
  }
}

/** No node answered at `url` (refused, reset, timed out, or not a JSON-RPC endpoint). */
export class ChainUnreachableError extends ChainError {
  readonly url: string;
  constructor(url: string, reason: string) {
    super(`cannot reach the chain at ${url || '""'}: ${reason}`);
    this.url = url;
  }
}

/** The sender's nonce was already used or is too high (another writer on the same account). */
export class NonceConflictError extends ChainError {}

/** The transaction ran out of gas, or needs more than a block holds. */
export class OutOfGasError extends ChainError {}

/** The transaction was replaced or dropped from the pool before it was mined. */
export class TransactionDroppedError extends ChainError {}

/** The node's head stayed behind a block this process already wrote to. */
export class StaleReadError extends ChainError {
  constructor(head: number, needed: number) {
    super(`the node's head is block ${head}, behind block ${needed} that holds our own write`);
  }
}

const ARTIFACTS = [
  "ledger/BillingLedger.sol/BillingLedger.json",
  "ledger/AggregationLedger.sol/AggregationLedger.json",
  "consensus/ReputationRegistry.sol/ReputationRegistry.json",
];

let projectErrors: Interface | undefined;

/** Every custom error of the project's deployable contracts (from `artifacts/`), deduplicated. */
export function projectErrorInterface(): Interface {
  if (projectErrors) return projectErrors;
  const bySelector = new Map<string, ErrorFragment>();
  for (const path of ARTIFACTS) {
    const url = new URL(`../../artifacts/contracts/${path}`, import.meta.url);
    if (!existsSync(url)) continue;
    const abi = (JSON.parse(readFileSync(url, "utf8")) as { abi: InterfaceAbi }).abi;
    for (const fragment of new Interface(abi).fragments) {
      if (fragment instanceof ErrorFragment) bySelector.set(fragment.selector, fragment);
    }
  }
  projectErrors = new Interface([...bySelector.values()]);
  return projectErrors;
}

/** Every `0x…` revert-data candidate in an error object graph (ethers, EDR, nested causes). */
function revertDataCandidates(err: unknown): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  const visit = (x: unknown, depth: number): void => {
    if (depth > 6 || x === null || typeof x !== "object" || seen.has(x)) return;
    seen.add(x);
    const o = x as Record<string, unknown>;
    for (const key of ["data", "revertData", "returnData"]) {
      const v = o[key];
      if (typeof v === "string" && /^0x([0-9a-fA-F]{2})*$/.test(v)) found.push(v);
      else if (v && typeof v === "object") visit(v, depth + 1);
    }
    for (const key of ["error", "info", "cause", "revert", "receipt"]) visit(o[key], depth + 1);
  };
  visit(err, 0);
  return found;
}

function plain(result: Result): unknown[] {
  return result.toArray(true).map((v: unknown) => (typeof v === "number" ? BigInt(v) : v));
}

function formatArg(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "bigint") return v.toString();
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
}

/** The decoded revert of `err`, if it carries revert data one of `iface`'s errors (or Error/Panic) matches. */
export function decodeRevert(
  err: unknown,
  iface: Interface = projectErrorInterface(),
): ContractRevertError | undefined {
  const candidates = revertDataCandidates(err);
  for (const data of candidates) {
    if (data.length < 10) continue;
    try {
      const parsed = iface.parseError(data);
      if (parsed) return new ContractRevertError(parsed.name, plain(parsed.args), data);
    } catch {
      // not one of ours: try the next candidate
    }
  }
  // `require(cond, "text")` and panics: ethers decodes the standard Error(string)/Panic(uint256).
  for (const data of candidates) {
    if (data.startsWith("0x08c379a0") || data.startsWith("0x4e487b71")) {
      const name = data.startsWith("0x08c379a0") ? "Error" : "Panic";
      try {
        const [arg] = new Interface([`error ${name}(${name === "Error" ? "string" : "uint256"})`])
          .parseError(data)!
          .args.toArray();
        return new ContractRevertError(name, [arg], data);
      } catch {
        // malformed standard error: fall through
      }
    }
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "CALL_EXCEPTION") {
    return new ContractRevertError("UnknownRevert", [], candidates[0] ?? "0x");
  }
  return undefined;
}

/**
 * Maps any error thrown by ethers or a Hardhat provider to a `ChainError` when it is one:
 * revert (by data), unreachable node, nonce clash, out of gas, dropped transaction. Other errors
 * (bugs, bad input) are returned unchanged.
 */
export function toChainError(err: unknown, url = ""): unknown {
  if (err instanceof ChainError) return err;
  const revert = decodeRevert(err);
  const e = err as { code?: unknown; message?: unknown; shortMessage?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const text = `${typeof e?.shortMessage === "string" ? e.shortMessage : ""} ${
    typeof e?.message === "string" ? e.message : ""
  }`;
  // Gas exhaustion has no revert data; check it before a data-less CALL_EXCEPTION.
  if (/out of gas|exceeds block gas limit|gas required exceeds|intrinsic gas too low/i.test(text)) {
    return new OutOfGasError(`transaction out of gas: ${firstLine(text)}`);
  }
  if (revert) return revert;
  if (
    code === "NONCE_EXPIRED" ||
    /nonce too (low|high)|invalid nonce|nonce has already/i.test(text)
  ) {
    return new NonceConflictError(`nonce conflict: ${firstLine(text)}`);
  }
  if (code === "REPLACEMENT_UNDERPRICED" || code === "TRANSACTION_REPLACED") {
    return new TransactionDroppedError(`transaction replaced or dropped: ${firstLine(text)}`);
  }
  if (
    code === "NETWORK_ERROR" ||
    code === "TIMEOUT" ||
    /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|EHOSTUNREACH/i.test(text)
  ) {
    return new ChainUnreachableError(url, firstLine(text));
  }
  return err;
}

function firstLine(text: string): string {
  return text
    .trim()
    .split("\n")[0]
    .replace(/\s*\(action=.*$/, "")
    .slice(0, 200);
}

/**
 * Runs `action` (a contract call, a transaction, a deployment) and rethrows what it throws as a
 * named `ChainError` where it is one (see `toChainError`).
 */
export async function chainCall<T>(action: () => Promise<T>, url = ""): Promise<T> {
  try {
    return await action();
  } catch (err) {
    throw toChainError(err, url);
  }
}
