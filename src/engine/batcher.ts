/**
 * Dynamic micro-batching: concurrent submissions are gathered into one model run, up to
 * `maxBatch` images or until the oldest has waited `maxWaitMs` (Triton's max_queue_delay), or at
 * once when no other image is on its way to the batcher.
 * Each lane (one ONNX Runtime session) runs one batch at a time; while lanes are busy the next
 * batches fill up, so under load batches form without waiting at all.
 *
 * Why lanes: on 2 cores, one session with 2 threads loses far more than the CPU that decoding
 * takes from it, because its threads wait for each other at every layer, and a thread that
 * lost its core holds up both. Two single-thread sessions side by side never wait for each
 * other (README "Performance"). A single-thread session takes twice as long for one image,
 * though, so a lone image with nothing else running goes to the optional solo lane, a session
 * with every core. The solo lane never runs beside the others: that would oversubscribe the cores.
 */

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Length of every submitted item (bytes of an image's pixels for the engine). */
  itemLength: number;
  /** Scores per image in the model output. */
  outputLength: number;
  /**
   * Images accepted but not submitted yet (still being fetched or decoded). When none are on
   * their way, waiting for company cannot fill a batch, so the waiting images run at once; this
   * lets maxWaitMs be long enough to fill batches under load without delaying a lone request.
   * Without it, every partial batch waits maxWaitMs.
   */
  arriving?: () => number;
}

export interface BatchedScores {
  scores: Float32Array;
  /** The image's pooled features from the same run; null when the lane gives none. */
  embedding: Float32Array | null;
  queue_ms: number;
  inference_ms: number;
  batch_size: number;
}

export interface BatchReport {
  /** "solo", or the parallel lane's number from 1. */
  lane: string;
  size: number;
  inference_ms: number;
  queue_ms: number[];
}

/** A model run's outputs: scores and (when the model has them) features, each per item back to back. */
export interface BatchOutput {
  scores: Float32Array;
  embeddings: Float32Array | null;
}

/** Runs the model on the items, in order; answers outputLength scores per item (and features), back to back. */
export type RunBatch<T> = (items: T[]) => Promise<Float32Array | BatchOutput>;

export interface BatchLanes<T> {
  /** Lanes that run side by side, one batch each at a time. */
  parallel: RunBatch<T>[];
  /** Takes a lone image when every lane is idle; never runs beside the parallel lanes. */
  solo?: RunBatch<T>;
}

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

export function createBatcher<T extends BatchItem>(
  lanes: RunBatch<T> | BatchLanes<T>,
  options: BatcherOptions,
  onBatch?: (report: BatchReport) => void,
): Batcher<T> {
  return new MicroBatcher(typeof lanes === 'function' ? { parallel: [lanes] } : lanes, options, onBatch);
}

export class MicroBatcher<T extends BatchItem> implements Batcher<T> {
  readonly #parallel: RunBatch<T>[];
  readonly #solo: RunBatch<T> | undefined;
  readonly #options: BatcherOptions;
  readonly #onBatch: ((report: BatchReport) => void) | undefined;
  readonly #busy: boolean[];
  #soloBusy = false;
  readonly #queue: Pending<T>[] = [];
  #timer: NodeJS.Timeout | null = null;
  #drainWaiters: (() => void)[] = [];

  constructor(lanes: BatchLanes<T>, options: BatcherOptions, onBatch?: (report: BatchReport) => void) {
    if (lanes.parallel.length === 0) throw new Error('the batcher needs at least one lane');
    this.#parallel = lanes.parallel;
    this.#solo = lanes.solo;
    this.#options = options;
    this.#onBatch = onBatch;
    this.#busy = lanes.parallel.map(() => false);
  }

  submit(item: T): Promise<BatchedScores> {
    const { itemLength } = this.#options;
    if (item.length !== itemLength) {
      return Promise.reject(new Error(`the item has ${item.length} values, the model takes ${itemLength}`));
    }
    return new Promise<BatchedScores>((resolve, reject) => {
      this.#queue.push({ item, enqueuedAt: performance.now(), resolve, reject });
      this.#schedule();
    });
  }

  waiting(): number {
    return this.#queue.length;
  }

  drain(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #running(): boolean {
    return this.#soloBusy || this.#busy.some(Boolean);
  }

  #idle(): boolean {
    return !this.#running() && this.#queue.length === 0;
  }

  #nothingArriving(): boolean {
    return this.#options.arriving?.() === 0;
  }

  #freeLanes(): number[] {
    return this.#soloBusy ? [] : this.#busy.flatMap((b, i) => (b ? [] : [i]));
  }

  #schedule(): void {
    const options = this.#options;
    const queue = this.#queue;
    if (queue.length === 0 || this.#freeLanes().length === 0) return;
    if (queue.length >= options.maxBatch || options.maxWaitMs <= 0 || this.#nothingArriving()) {
      this.#dispatch();
      return;
    }
    if (!this.#timer) {
      const waited = performance.now() - queue[0].enqueuedAt;
      this.#timer = setTimeout(
        () => {
          this.#timer = null;
          this.#dispatch();
        },
        Math.max(0, options.maxWaitMs - waited),
      );
    }
  }

  /** Hands the waiting images to every free lane, split evenly so the lanes finish together. */
  #dispatch(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const queue = this.#queue;
    const solo = this.#solo;
    // Under load (more images on their way) a lone image waits for company on a parallel lane instead:
    // the solo lane would hold up every other lane for one image.
    if (
      solo &&
      !this.#running() &&
      queue.length === 1 &&
      (this.#options.arriving === undefined || this.#nothingArriving())
    ) {
      this.#soloBusy = true;
      void this.#runOn(solo, 'solo', queue.splice(0, 1), () => {
        this.#soloBusy = false;
      });
      return;
    }
    for (let free = this.#freeLanes(); free.length > 0 && queue.length > 0; free = this.#freeLanes()) {
      const lane = free[0];
      this.#busy[lane] = true;
      const size = Math.min(this.#options.maxBatch, Math.ceil(queue.length / free.length));
      void this.#runOn(this.#parallel[lane], String(lane + 1), queue.splice(0, size), () => {
        this.#busy[lane] = false;
      });
    }
  }

  async #runOn(runBatch: RunBatch<T>, lane: string, batch: Pending<T>[], release: () => void): Promise<void> {
    const { outputLength } = this.#options;
    const started = performance.now();
    try {
      const output = await runBatch(batch.map((pending) => pending.item));
      const { scores, embeddings } = output instanceof Float32Array ? { scores: output, embeddings: null } : output;
      const features = embeddings ? embeddings.length / batch.length : 0;
      const inference_ms = performance.now() - started;
      const queue_ms = batch.map((item) => started - item.enqueuedAt);
      this.#onBatch?.({ lane, size: batch.length, inference_ms, queue_ms });
      batch.forEach((item, i) => {
        item.resolve({
          scores: scores.subarray(i * outputLength, (i + 1) * outputLength),
          embedding: embeddings ? embeddings.subarray(i * features, (i + 1) * features) : null,
          queue_ms: queue_ms[i],
          inference_ms,
          batch_size: batch.length,
        });
      });
    } catch (err) {
      for (const item of batch) item.reject(err);
    } finally {
      release();
      this.#schedule();
      if (this.#idle()) {
        const waiters = this.#drainWaiters;
        this.#drainWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
