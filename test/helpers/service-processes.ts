// In-process service deployments (test/node/*-services.test.ts): what each "process" opened
// (its transports and stores, the runner's job in a real process), so a test can wait until a
// process listens, stop one process's sockets and stores, and close everything at the end.
import type { SocketTransport } from "../../offchain/runtime/socket-transport.ts";
import type { Store } from "../../offchain/runtime/store.ts";

/** What one process opened, closed when it stops. */
export interface Opened {
  transports: SocketTransport[];
  stores: Store[];
}

/** As the runner does after `start()`: every transport the service started is listening. */
export async function listening(o: Opened): Promise<void> {
  for (const t of o.transports) await t.listening();
}

/** Closes what `o` opened (transports, then stores) and forgets it. */
export async function closeAll(o: Opened): Promise<void> {
  for (const t of o.transports) await t.close();
  for (const s of o.stores) s.close();
  o.transports.length = 0;
  o.stores.length = 0;
}

/** The processes of one deployment, by name. */
export class ProcessTable {
  readonly #opened = new Map<string, Opened>();

  /** A fresh record for process `name` (a restart replaces the previous one's). */
  open(name: string): Opened {
    const o: Opened = { transports: [], stores: [] };
    this.#opened.set(name, o);
    return o;
  }

  /** Waits until every process (or every one but `except`) listens. */
  async listening(options: { readonly only?: string; readonly except?: string } = {}) {
    for (const [name, o] of this.#opened) {
      if (options.only !== undefined && name !== options.only) continue;
      if (options.except !== undefined && name === options.except) continue;
      await listening(o);
    }
  }

  /** Closes process `name`'s transports and stores (after its service stopped). */
  async close(name: string): Promise<void> {
    const o = this.#opened.get(name);
    if (o) await closeAll(o);
  }

  /** Closes everything every process opened. */
  async closeAll(): Promise<void> {
    for (const o of this.#opened.values()) await closeAll(o);
  }
}
