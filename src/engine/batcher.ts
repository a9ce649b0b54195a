/**
 * Dynamic micro-batching: concurrent submissions are gathered into one model run, up to
 * `maxBatch` images or until the oldest has waited `maxWaitMs` (Triton's max_queue_delay).
 * One batch runs at a time (one session per process); while it runs the next one fills up,
 * so under load batches form without waiting at all.
 */

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Floats per image in the model input. */
  imageLength: number;
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

export type RunBatch = (input: Float32Array, batch: number) => Promise<Float32Array>;

interface Pending {
  tensor: Float32Array;
  enqueuedAt: number;
  resolve: (value: BatchedScores) => void;
  reject: (reason: unknown) => void;
}

export interface Batcher {
  submit(tensor: Float32Array): Promise<BatchedScores>;
  /** Images waiting for a batch (not counting the one running). */
  waiting(): number;
  /** Resolves when nothing is waiting or running. */
  drain(): Promise<void>;
}

export function createBatcher(runBatch: RunBatch, options: BatcherOptions, onBatch?: (report: BatchReport) => void): Batcher {
  const queue: Pending[] = [];
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
      const input = new Float32Array(batch.length * options.imageLength);
      batch.forEach((item, i) => input.set(item.tensor, i * options.imageLength));
      const output = await runBatch(input, batch.length);
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
    submit(tensor) {
      if (tensor.length !== options.imageLength) {
        return Promise.reject(new Error(`tensor has ${tensor.length} values, the model takes ${options.imageLength}`));
      }
      return new Promise<BatchedScores>((resolve, reject) => {
        queue.push({ tensor, enqueuedAt: performance.now(), resolve, reject });
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
