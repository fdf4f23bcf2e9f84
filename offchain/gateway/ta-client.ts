// The gateway's client of the online TA service (offchain/ta/service.ts; DESIGN §4.7 "Dropouts"):
// `correction(t, D)` sends `bbnpCorrectionRequest` to the TA's address, resends it every
// `resendMs` (datagrams may be lost; the TA answers a repeated request with the same value) and
// resolves with the `bbnpDropoutCorrection` for exactly (t, D) from that address, or rejects with
// `CorrectionTimeoutError` after `timeoutMs` (the TA refuses silently; the gateway agent then
// aborts the round cleanly). It shares the gateway's one transport: `transport` is a view of it for
// the agent that takes the TA's answers out of the agent's message stream.
import type { Clock, TimerHandle } from "../runtime/clock.ts";
import type { MessageHandler, Transport } from "../runtime/network.ts";
import { decodeWire, encodeWire, WireDecodeError } from "../protocol/wire/index.ts";
import type { GatewayTaClient } from "./agent.ts";

/** The TA did not answer a correction request in time (refused, down or unreachable). */
export class CorrectionTimeoutError extends Error {
  override name = "CorrectionTimeoutError";
  readonly round: bigint;
  constructor(round: bigint, timeoutMs: number) {
    super(`no dropout correction from the TA for round ${round} within ${timeoutMs} ms`);
    this.round = round;
  }
}

export interface WireTaClientInit {
  /** The TA service's transport address (e.g. "ta"). */
  readonly address: string;
  /** β_g(t) from the TA's offline set-up (`GatewayTaClient.blinding`). */
  readonly blinding: (round: bigint) => bigint;
  /** Longest wait for the answer (ms, default 5,000). */
  readonly timeoutMs?: number;
  /** Resend interval of the request (ms, default 500). */
  readonly resendMs?: number;
}

type Pending = {
  round: bigint;
  missing: readonly number[];
  resolve: (x: bigint) => void;
};

/**
 * Returns the TA client and the transport view to hand to the `GatewayAgent` (same address; the
 * TA's answers are consumed here, every other message goes to the agent's handler).
 */
export function wireTaClient(
  init: WireTaClientInit,
  components: { transport: Transport; clock: Clock },
): { ta: GatewayTaClient; transport: Transport } {
  const { transport, clock } = components;
  const timeoutMs = init.timeoutMs ?? 5_000;
  const resendMs = init.resendMs ?? 500;
  let agentHandler: MessageHandler | undefined;
  let pending: Pending | undefined;

  const onMessage: MessageHandler = (from, bytes) => {
    if (from === init.address) {
      try {
        const m = decodeWire(bytes);
        const p = pending;
        if (
          p &&
          m.type === "bbnpDropoutCorrection" &&
          m.correction.round === p.round &&
          m.correction.missing.length === p.missing.length &&
          m.correction.missing.every((d, k) => d === p.missing[k])
        ) {
          p.resolve(m.correction.correction);
        }
      } catch (e) {
        if (!(e instanceof WireDecodeError)) throw e;
      }
      return;
    }
    return agentHandler?.(from, bytes);
  };
  transport.handle(onMessage);

  const view: Transport = {
    address: transport.address,
    start: () => transport.start(),
    stop: () => transport.stop(),
    send: (to, bytes) => transport.send(to, bytes),
    handle(handler) {
      agentHandler = handler;
      transport.handle(onMessage);
    },
  };

  const ta: GatewayTaClient = {
    blinding: init.blinding,
    correction(round, dropped) {
      const missing = [...dropped].sort((a, b) => a - b);
      const request = encodeWire({ type: "bbnpCorrectionRequest", request: { round, missing } });
      return new Promise<bigint>((resolve, reject) => {
        let resend: TimerHandle | undefined;
        const finish = () => {
          pending = undefined;
          if (resend !== undefined) clock.clearTimeout(resend);
          clock.clearTimeout(deadline);
        };
        const deadline = clock.setTimeout(() => {
          finish();
          reject(new CorrectionTimeoutError(round, timeoutMs));
        }, timeoutMs);
        pending = {
          round,
          missing,
          resolve: (x) => {
            finish();
            resolve(x);
          },
        };
        const send = () => {
          transport.send(init.address, request);
          resend = clock.setTimeout(send, resendMs);
        };
        send();
      });
    },
  };
  return { ta, transport: view };
}
