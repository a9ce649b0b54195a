/** Part 2: decoding and preprocessing alone, single-threaded and through the engine's decode pool. */
import { readFileSync } from 'node:fs';
import { Piscina } from 'piscina';
import { DEFAULT_PREPROCESS_OPTIONS, preprocessImage, type PreprocessOptions } from '../src/engine/preprocess.ts';
import { siblingWorker, workerModule } from '../src/engine/workers/worker-module.ts';
import type { PreprocessReply, PreprocessTask } from '../src/engine/workers/preprocess-worker.ts';
import {
  CAMERA_IMAGE,
  cores,
  cpuSnapshot,
  imagenetImages,
  log,
  measureQuietly,
  median,
  otherBusyCores,
  quick,
  round,
  waitForQuiet,
} from './common.ts';

export interface PreprocessRow {
  image: 'imagenet' | 'camera';
  /** "single" = preprocessImage awaited one at a time on the main thread; "pool-N" = N decode threads. */
  mode: string;
  shrink_on_load: boolean;
  images: number;
  images_per_s: number | null;
  ms_per_image_p50: number | null;
  other_load_cores: number | null;
}

export interface PreprocessResult {
  imagenet_images: number;
  camera_size: string;
  rows: PreprocessRow[];
}

/** Images per measurement; camera photos are 20-50x more work. */
const COUNT = quick ? { imagenet: 80, camera: 6 } : { imagenet: 400, camera: 24 };

async function singleThread(
  inputs: Buffer[],
  count: number,
  options: PreprocessOptions,
): Promise<{ perSecond: number; p50: number; otherLoad: number | null }> {
  for (const bytes of inputs.slice(0, 2)) await preprocessImage(bytes, options); // warm-up
  const cpuBefore = cpuSnapshot();
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await preprocessImage(inputs[i % inputs.length], options);
    times.push(performance.now() - t);
  }
  return {
    perSecond: (count * 1000) / (performance.now() - started),
    p50: median(times),
    otherLoad: otherBusyCores(cpuBefore, cpuSnapshot()),
  };
}

async function throughPool(
  pool: Piscina<PreprocessTask, PreprocessReply>,
  inputs: Buffer[],
  count: number,
  options: PreprocessOptions,
  threads: number,
) {
  const run = async (bytes: Buffer) => {
    const t = performance.now();
    const reply = await pool.run({ bytes, options });
    if (!reply.ok) throw new Error(`decode pool: ${reply.error.message}`);
    return performance.now() - t;
  };
  await Promise.all(inputs.slice(0, threads * 2).map(run)); // warm-up: every thread loads sharp
  const cpuBefore = cpuSnapshot();
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  // Two in flight per thread keeps each thread busy without a deep queue inflating latency.
  await Promise.all(
    Array.from({ length: threads * 2 }, async () => {
      while (next < count) times.push(await run(inputs[next++ % inputs.length]));
    }),
  );
  return {
    perSecond: (count * 1000) / (performance.now() - started),
    p50: median(times),
    otherLoad: otherBusyCores(cpuBefore, cpuSnapshot()),
  };
}

export async function benchPreprocess(): Promise<PreprocessResult> {
  const imagenet = imagenetImages().map((f) => readFileSync(f));
  const camera = [readFileSync(CAMERA_IMAGE)];
  const sets = [
    { image: 'imagenet' as const, inputs: imagenet, count: COUNT.imagenet },
    { image: 'camera' as const, inputs: camera, count: COUNT.camera },
  ];
  const rows: PreprocessRow[] = [];
  const measureRow = async (
    image: PreprocessRow['image'],
    mode: string,
    shrinkOnLoad: boolean,
    count: number,
    fn: () => ReturnType<typeof singleThread>,
  ) => {
    const row = await measureQuietly(
      `preprocess ${image} ${mode} shrink=${shrinkOnLoad}`,
      async (): Promise<PreprocessRow> => {
        await waitForQuiet();
        const r = await fn();
        return {
          image,
          mode,
          shrink_on_load: shrinkOnLoad,
          images: count,
          images_per_s: round(r.perSecond),
          ms_per_image_p50: round(r.p50, 2),
          other_load_cores: r.otherLoad,
        };
      },
    );
    rows.push(row);
    log(
      `preprocess ${row.image} ${row.mode} shrink=${row.shrink_on_load}: ${row.images_per_s} img/s, ${row.ms_per_image_p50} ms p50, other load ${row.other_load_cores}`,
    );
  };

  for (const set of sets) {
    for (const shrinkOnLoad of [true, false]) {
      await measureRow(set.image, 'single', shrinkOnLoad, set.count, () =>
        singleThread(set.inputs, set.count, { ...DEFAULT_PREPROCESS_OPTIONS, shrinkOnLoad }),
      );
    }
  }

  const worker = workerModule(siblingWorker('preprocess-worker'));
  for (const threads of [...new Set([1, cores])]) {
    const pool = new Piscina<PreprocessTask, PreprocessReply>({
      filename: worker.filename,
      execArgv: worker.execArgv,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
    });
    try {
      for (const set of sets) {
        await measureRow(set.image, `pool-${threads}`, DEFAULT_PREPROCESS_OPTIONS.shrinkOnLoad, set.count, () =>
          throughPool(pool, set.inputs, set.count, DEFAULT_PREPROCESS_OPTIONS, threads),
        );
      }
    } finally {
      await pool.destroy();
    }
  }
  return { imagenet_images: imagenet.length, camera_size: '3500x2335', rows };
}
