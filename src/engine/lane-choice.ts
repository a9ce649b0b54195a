/**
 * How many parallel sessions the model needs, from two timings taken at start-up on this machine.
 *
 * A second single-thread session only pays when the model, not the work around it, is the limit.
 * With C cores, one single-thread session finishes at most 1/m images per second (m: the model's
 * time per image on one thread), and the machine at most C/(m + d + o) (d: decoding, o: HTTP,
 * copies and the rest, about as much again as decoding). One session keeps up while
 * m <= (m + d + o)/(C - 1), which on 2 cores is m <= d + o, about 2d. Below that a second session
 * only makes smaller batches: measured on 2 cores, MobileNetV2 int8 (m ~4 ms, d ~5-7 ms as timed
 * here) served 12 % more uploads at 16 clients with one session (140.5 -> 157.0 req/s, mean batch
 * 5.6-6.6 instead of 1.5), while ResNet-50 (m ~50 ms) keeps both (README "Performance").
 */
import sharp from 'sharp';

export interface LaneTimings {
  /** The model on one of the parallel sessions, batch 1, ms per image (best of a few runs). */
  model_ms: number;
  /**
   * Decoding and preparing an ImageNet-size JPEG through sharp on one thread, ms (best of a few runs):
   * the yardstick for the work around the model, also when JPEGs are decoded directly (classifier.ts).
   */
  decode_ms: number;
}

/** Parallel sessions worth running: all of them when the model outweighs the work around it, else one. */
export function parallelSessionsFor(timings: LaneTimings, available: number): number {
  return timings.model_ms > 2 * timings.decode_ms ? available : 1;
}

/**
 * An ImageNet-size (500x375) JPEG made here, so nothing is read from disk: gaussian noise at
 * quality 90 decodes in about the time of the shared ImageNet photos (~100 kB, ~3.5 ms).
 */
export function referenceJpeg(): Promise<Buffer> {
  return sharp({
    create: {
      width: 500,
      height: 375,
      channels: 3,
      background: '#3a6b8c',
      noise: { type: 'gaussian', mean: 110, sigma: 30 },
    },
  })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** The fastest of `runs` timings of `task`, in ms: the least disturbed by whatever else the machine did. */
async function fastestMs(task: () => Promise<unknown>, runs = 3): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) best = Math.min(best, await timedMs(task));
  return best;
}

async function timedMs(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task();
  return performance.now() - started;
}

/**
 * Decoding's time (fastest of 5) and the model's (fastest of up to 3 runs, fewer once the choice
 * is clear: a heavy model's runs cost ~50 ms each at start-up). Noise only makes runs slower, so a
 * model at or under the line is light for sure, and one at over twice the line is heavy for sure.
 */
export async function laneTimingsOf(
  decodeOnce: () => Promise<unknown>,
  modelOnce: () => Promise<unknown>,
): Promise<LaneTimings> {
  const decode_ms = await fastestMs(decodeOnce, 5);
  let model_ms = Infinity;
  for (let run = 0; run < 3; run++) {
    model_ms = Math.min(model_ms, await timedMs(modelOnce));
    if (model_ms <= 2 * decode_ms || model_ms > 4 * decode_ms) break;
  }
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { model_ms: round(model_ms), decode_ms: round(decode_ms) };
}
