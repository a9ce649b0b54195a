/**
 * A budget of decoded pixels in flight. A decoded image takes ~3 bytes per pixel whatever its
 * file size (a 12 KB PNG can hold 100 megapixels), so decoding threads alone do not bound memory:
 * each image reserves its pixels, read from its header, before it is decoded, and waits while the
 * budget is spent. Waiters are served in order, so a big image is not starved by small ones; an
 * image larger than the whole budget runs alone once nothing else decodes.
 */
import { ClassifierError } from '../errors.ts';

export interface PixelBudgetStats {
  /** The budget, in pixels. */
  limit: number;
  /** Pixels reserved right now (images being decoded). */
  pixels: number;
  /** The most pixels ever reserved at once. */
  peakPixels: number;
  /** Images waiting for budget. */
  waiting: number;
}

interface Waiter {
  pixels: number;
  grant: (release: () => void) => void;
}

export function cancelledError(): ClassifierError {
  return new ClassifierError('request_cancelled', 'The request went away before its image was decoded.');
}

export class PixelBudget {
  readonly #limit: number;
  #pixels = 0;
  #peak = 0;
  readonly #queue: Waiter[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Waits until `pixels` fit in the budget (or nothing else is reserved) and reserves them; the
   * returned function gives them back (call it once, when decoding ends, however it ends).
   * `cancel` withdraws a waiting reservation and rejects with `request_cancelled`.
   */
  async reserve(pixels: number, cancel?: AbortSignal): Promise<() => void> {
    if (cancel?.aborted) throw cancelledError();
    if (this.#queue.length === 0 && this.#fits(pixels)) return this.#take(pixels);
    return new Promise<() => void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#queue.indexOf(waiter);
        if (at < 0) return; // granted meanwhile
        this.#queue.splice(at, 1);
        reject(cancelledError());
        // The one withdrawn may have held up smaller ones behind it.
        this.#grantWaiting();
      };
      const waiter: Waiter = {
        pixels,
        grant: (release) => {
          cancel?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      cancel?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  stats(): PixelBudgetStats {
    return { limit: this.#limit, pixels: this.#pixels, peakPixels: this.#peak, waiting: this.#queue.length };
  }

  #fits(pixels: number): boolean {
    return this.#pixels === 0 || this.#pixels + pixels <= this.#limit;
  }

  /** Reserves at once (also for a waiter being granted, so the next check already counts it). */
  #take(pixels: number): () => void {
    this.#pixels += pixels;
    this.#peak = Math.max(this.#peak, this.#pixels);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#pixels -= pixels;
      this.#grantWaiting();
    };
  }

  #grantWaiting(): void {
    while (this.#queue.length > 0 && this.#fits(this.#queue[0].pixels)) {
      const next = this.#queue.shift() as Waiter;
      next.grant(this.#take(next.pixels));
    }
  }
}
