/**
 * Dynamic micro-batching: concurrent submissions are gathered into one model run, up to
 * `maxBatch` images or until the oldest has waited `maxWaitMs` (Triton's max_queue_delay).
 * One batch runs at a time (one session per process); while it runs the next one fills up,
 * so under load batches form without waiting at all.
 */

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Length of every submitted item (bytes of an image's pixels for the engine). */
  itemLength: number;
  /** Scores per image in the model output. */
  outputLength: number;
}

export interface BatchedScores {
  scores: Float32Array;
  queue_ms: number;
  inference_ms: number;
  batch_size: number;
}

export interface BatchReport {
  size: number;
  inference_ms: number;
  queue_ms: number[];
}

/** Runs the model on the items, in order; answers outputLength scores per item, back to back. */
export type RunBatch<T> = (items: T[]) => Promise<Float32Array>;

/** What can be batched: pixels for the engine, anything with a length in tests. */
export interface BatchItem {
  readonly length: number;
}

interface Pending<T> {
  item: T;
  enqueuedAt: number;
  resolve: (value: BatchedScores) => void;
  reject: (reason: unknown) => void;
}

export interface Batcher<T extends BatchItem> {
  submit(item: T): Promise<BatchedScores>;
  /** Images waiting for a batch (not counting the one running). */
  waiting(): number;
  /** Resolves when nothing is waiting or running. */
  drain(): Promise<void>;
}

export function createBatcher<T extends BatchItem>(runBatch: RunBatch<T>, options: BatcherOptions, onBatch?: (report: BatchReport) => void): Batcher<T> {
  const queue: Pending<T>[] = [];
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  let drainWaiters: (() => void)[] = [];

  function schedule(): void {
    if (running || queue.length === 0) return;
    if (queue.length >= options.maxBatch || options.maxWaitMs <= 0) {
      void dispatch();
      return;
    }
    if (!timer) {
      const waited = performance.now() - queue[0].enqueuedAt;
      timer = setTimeout(() => {
        timer = null;
        void dispatch();
      }, Math.max(0, options.maxWaitMs - waited));
    }
  }

  async function dispatch(): Promise<void> {
    if (running || queue.length === 0) return;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    running = true;
    const batch = queue.splice(0, options.maxBatch);
    const started = performance.now();
    try {
      const output = await runBatch(batch.map((pending) => pending.item));
      const inference_ms = performance.now() - started;
      const queue_ms = batch.map((item) => started - item.enqueuedAt);
      onBatch?.({ size: batch.length, inference_ms, queue_ms });
      batch.forEach((item, i) =>
        item.resolve({
          scores: output.subarray(i * options.outputLength, (i + 1) * options.outputLength),
          queue_ms: queue_ms[i],
          inference_ms,
          batch_size: batch.length,
        }),
      );
    } catch (err) {
      for (const item of batch) item.reject(err);
    } finally {
      running = false;
      schedule();
      if (!running && queue.length === 0) {
        const waiters = drainWaiters;
        drainWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  return {
    submit(item) {
      if (item.length !== options.itemLength) {
        return Promise.reject(new Error(`the item has ${item.length} values, the model takes ${options.itemLength}`));
      }
      return new Promise<BatchedScores>((resolve, reject) => {
        queue.push({ item, enqueuedAt: performance.now(), resolve, reject });
        schedule();
      });
    },
    waiting: () => queue.length,
    drain() {
      if (!running && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
  };
}
