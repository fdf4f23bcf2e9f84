// Worker thread of the control center's admission pool (admission-pool.ts, issue 14): verifies
// packed signature jobs (admission-verify.ts) and answers their verdicts in order. Holds no
// admission state: the table look-up, the order and every decision stay on the CC's thread.
// workerData: { domain: Uint8Array } (the billing ledger's §4.4 domain).
// Messages in: { id: number, packed: Uint8Array }; out: { id, verdicts: Uint8Array } or
// { id, error: string }.
import { parentPort, workerData } from "node:worker_threads";

import { verifyPackedSignatureJobs } from "./admission-verify.ts";

interface VerifyRequest {
  readonly id: number;
  readonly packed: Uint8Array;
}

const port = parentPort;
if (port === null) throw new Error("admission-worker: must run as a worker thread");
const domain = Uint8Array.from((workerData as { domain: Uint8Array }).domain);

port.on("message", (request: VerifyRequest) => {
  try {
    const verdicts = verifyPackedSignatureJobs(domain, request.packed);
    port.postMessage({ id: request.id, verdicts }, [verdicts.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) });
  }
});
