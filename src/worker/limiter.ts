/**
 * A FIFO counting semaphore. The worker runs many jobs at once (so single-image jobs keep the
 * engine's micro-batcher full) but must bound the images in flight across all of them, or one
 * 10,000-image batch would hold every upload and decoded tensor in memory at the same time.
 */
export interface Limiter {
  acquire(): Promise<void>;
  release(): void;
  /** Permits in use. */
  inUse(): number;
}

export function createLimiter(permits: number): Limiter {
  if (!Number.isInteger(permits) || permits < 1)
    throw new RangeError(`permits must be a positive integer, not ${permits}`);
  let used = 0;
  const queue: (() => void)[] = [];
  return {
    acquire() {
      if (used < permits) {
        used++;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => queue.push(resolve));
    },
    release() {
      const next = queue.shift();
      // The permit passes straight to the next waiter, so a late acquire() cannot jump the queue.
      if (next) next();
      else used--;
    },
    inUse: () => used,
  };
}
