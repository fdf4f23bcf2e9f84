// Test helper: runs agents on a VirtualClock to completion (shared by the BBNP agent tests).
import type { VirtualClock } from "../../offchain/runtime/clock.ts";

/**
 * Runs `work` to completion, moving virtual time to the next due timer whenever nothing else can
 * progress (at most 100,000 steps); resolves or rejects as `work` does.
 */
export async function drive<T>(clock: VirtualClock, work: Promise<T>): Promise<T> {
  let done = false;
  work.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 100_000 && !done; i++) {
    await new Promise((r) => setImmediate(r));
    const next = clock.nextDueMs;
    if (!done && next !== undefined) clock.advanceTo(next);
  }
  return work;
}
