// Many small byte strings in few large buffers (issue 14, sim.peak_rss_mb_100000).
//
// Every `Uint8Array` of its own costs an `ArrayBuffer` (88 B of V8 heap) and a malloc'ed backing
// store (its bytes plus the allocator's header and rounding) besides its 96 B view; a simulator
// holding a few small buffers per meter for 100,000 meters pays that a few hundred thousand times,
// and short-lived 1.4 kB onion packets leave the malloc heap fragmented. A `ByteSlab` copies byte
// strings into shared chunks (bump allocation, never freed one by one): a chunk is garbage once
// no view into it is left, so data that lives and dies together (one round's queued onions) frees
// its chunks together.
//
// Confidentiality: a view's `.buffer` is the whole chunk, i.e. every other string copied into the
// same slab. A slab therefore belongs to ONE owner (DESIGN §2: each role holds only its own
// secrets); the owner keeps its views private and hands out copies, never views.

/** Default chunk size: 256 KiB (≈ 190 onion packets of 1,366 bytes with their next-hop ids). */
export const DEFAULT_SLAB_CHUNK_BYTES = 256 * 1024;

/** Views start at multiples of this (aligned for any typed array over them). */
const ALIGN = 8;

export class ByteSlab {
  readonly #chunkBytes: number;
  #chunk: Uint8Array | undefined;
  #used = 0;
  #chunks = 0;
  #bytes = 0;

  /**
   * `chunkBytes`: the size of each shared buffer (an integer in [64, 2^30], default
   * {@link DEFAULT_SLAB_CHUNK_BYTES}); a string longer than a quarter of it gets a buffer of its
   * own. Throws RangeError otherwise.
   */
  constructor(chunkBytes: number = DEFAULT_SLAB_CHUNK_BYTES) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 64 || chunkBytes > 2 ** 30) {
      throw new RangeError(`ByteSlab: chunkBytes ${chunkBytes} outside [64, 2^30]`);
    }
    this.#chunkBytes = chunkBytes;
  }

  /**
   * A view of `parts` concatenated, copied into the current chunk (a new chunk when it is full).
   * The view's `.buffer` holds the slab's other strings: keep it private to the slab's owner.
   * Throws TypeError for a part that is not a Uint8Array.
   */
  copy(...parts: Uint8Array[]): Uint8Array {
    let length = 0;
    for (const p of parts) {
      if (!(p instanceof Uint8Array)) throw new TypeError("ByteSlab.copy: parts must be bytes");
      length += p.length;
    }
    let out: Uint8Array;
    if (length > this.#chunkBytes >>> 2) {
      out = new Uint8Array(length);
    } else {
      if (this.#chunk === undefined || this.#used + length > this.#chunkBytes) {
        this.#chunk = new Uint8Array(this.#chunkBytes);
        this.#used = 0;
        this.#chunks++;
      }
      out = this.#chunk.subarray(this.#used, this.#used + length);
      this.#used += Math.ceil(length / ALIGN) * ALIGN;
    }
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    this.#bytes += length;
    return out;
  }

  /** Chunks allocated so far (live or not) and bytes copied so far: for tests and benches. */
  stats(): { readonly chunks: number; readonly bytes: number } {
    return { chunks: this.#chunks, bytes: this.#bytes };
  }
}
