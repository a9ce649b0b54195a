/**
 * Engine throughput without HTTP: createClassifier (decode pool + micro-batcher + inference thread)
 * classifying the ImageNet-size images with 16 concurrent callers, over a grid of settings.
 * This is what the engine defaults are tuned from.
 */
import { readFileSync } from 'node:fs';
import { createClassifier, defaultParallelSessions } from '../src/engine/classifier.ts';
import { sessionsLabel } from './report.ts';
import {
  cores,
  cpuSnapshot,
  fullGrid,
  imagenetImages,
  log,
  mean,
  measureQuietly,
  median,
  MODELS,
  otherBusyCores,
  percentile,
  quick,
  round,
  waitForQuiet,
  type ModelName,
} from './common.ts';

export interface GridSettings {
  /** ONNX Runtime threads in all, shared by the parallel sessions. */
  intraOpThreads: number;
  /** null: left to the engine, which chooses at start-up from the model's speed (lane-choice.ts). */
  parallelSessions: number | null;
  decodeThreads: number;
  maxBatch: number;
  maxWaitMs: number;
}

export interface GridRow extends GridSettings {
  model: ModelName;
  images: number;
  /** The parallel sessions the engine ran with (its own choice where parallelSessions is null). */
  sessions_used: number | null;
  images_per_s: number | null;
  latency_ms_p50: number | null;
  latency_ms_p95: number | null;
  mean_batch: number | null;
  startup_ms: number | null;
  /** Cores other processes used during the timed part: above ~0.2 this row is low. */
  other_load_cores: number | null;
  error?: string;
}

export interface GridResult {
  concurrency: number;
  shrink_on_load: string;
  grid: 'quick' | 'small' | 'full';
  rows: GridRow[];
}

const CONCURRENCY = 16;
/** Timed images per setting (a multiple of the 40 images), after a warm-up of 2 x concurrency. */
const IMAGES: Record<ModelName, number> = quick
  ? { 'mobilenetv2-int8': 120, resnet50: 40 }
  : { 'mobilenetv2-int8': 400, resnet50: 160 };

export function gridSettings(): GridSettings[] {
  const sessions = [...new Set([1, defaultParallelSessions(cores)])];
  const base: GridSettings = {
    intraOpThreads: cores,
    parallelSessions: sessions.at(-1)!,
    decodeThreads: cores,
    maxBatch: 8,
    maxWaitMs: 5,
  };
  const threads = [...new Set([1, cores])];
  const chosen = { ...base, parallelSessions: null };
  if (quick) return [chosen, base, { ...base, parallelSessions: 1 }];
  if (fullGrid) {
    const all: GridSettings[] = [];
    for (const intraOpThreads of threads)
      for (const parallelSessions of sessions.filter((n) => n <= intraOpThreads))
        for (const decodeThreads of threads)
          for (const maxBatch of [4, 8, 16])
            for (const maxWaitMs of [2, 5, 10])
              all.push({ intraOpThreads, parallelSessions, decodeThreads, maxBatch, maxWaitMs });
    return [chosen, ...all];
  }
  // Small grid: one session against parallel ones, every thread split at batch 8 / 5 ms, then batch size and wait varied one at a time.
  const small: GridSettings[] = [chosen];
  for (const parallelSessions of sessions) small.push({ ...base, parallelSessions });
  for (const intraOpThreads of threads) {
    for (const decodeThreads of threads) {
      const setting = {
        ...base,
        intraOpThreads,
        parallelSessions: Math.min(base.parallelSessions ?? 1, intraOpThreads),
        decodeThreads,
      };
      if (!small.some((x) => JSON.stringify(x) === JSON.stringify(setting))) small.push(setting);
    }
  }
  for (const maxBatch of [4, 16]) small.push({ ...base, maxBatch });
  for (const maxWaitMs of [2, 10]) small.push({ ...base, maxWaitMs });
  return small;
}

async function measure(modelPath: string, settings: GridSettings, inputs: Buffer[], count: number) {
  const loadStarted = performance.now();
  const batches: number[] = [];
  const classifier = await createClassifier({
    modelPath,
    ...settings,
    parallelSessions: settings.parallelSessions ?? undefined,
    onBatch: (r) => batches.push(r.size),
  });
  const startup = performance.now() - loadStarted;
  try {
    const drive = async (total: number, latencies: number[]) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < total) {
            const bytes = inputs[next++ % inputs.length];
            const t = performance.now();
            await classifier.classify(bytes);
            latencies.push(performance.now() - t);
          }
        }),
      );
    };
    await drive(CONCURRENCY * 2, []);
    batches.length = 0;
    const latencies: number[] = [];
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    await drive(count, latencies);
    const elapsed = performance.now() - started;
    const otherLoad = otherBusyCores(cpuBefore, cpuSnapshot());
    return {
      other_load_cores: otherLoad,
      perSecond: (count * 1000) / elapsed,
      latencies,
      meanBatch: mean(batches),
      startup,
      shrink: classifier.settings.resize,
      sessions: classifier.settings.parallelSessions,
    };
  } finally {
    await classifier.close();
  }
}

export async function benchEngineGrid(): Promise<GridResult> {
  const inputs = imagenetImages().map((f) => readFileSync(f));
  const rows: GridRow[] = [];
  let shrink = 'engine default';
  for (const model of MODELS) {
    for (const settings of gridSettings()) {
      const row: GridRow = {
        model: model.name,
        ...settings,
        images: IMAGES[model.name],
        sessions_used: null,
        images_per_s: null,
        latency_ms_p50: null,
        latency_ms_p95: null,
        mean_batch: null,
        startup_ms: null,
        other_load_cores: null,
      };
      try {
        const s = settings;
        const r = await measureQuietly(
          `grid ${model.name} intra=${s.intraOpThreads} sessions=${s.parallelSessions ?? 'chosen'} decode=${s.decodeThreads} batch=${s.maxBatch} wait=${s.maxWaitMs}`,
          async () => {
            await waitForQuiet();
            return measure(model.path, settings, inputs, IMAGES[model.name]);
          },
        );
        shrink = r.shrink;
        Object.assign(row, {
          sessions_used: r.sessions,
          images_per_s: round(r.perSecond),
          latency_ms_p50: round(median(r.latencies)),
          latency_ms_p95: round(percentile(r.latencies, 95)),
          mean_batch: round(r.meanBatch, 2),
          startup_ms: round(r.startup, 0),
          other_load_cores: r.other_load_cores,
        });
      } catch (err) {
        row.error = err instanceof Error ? err.message : String(err);
      }
      rows.push(row);
      const s = settings;
      log(
        `grid ${model.name} intra=${s.intraOpThreads} sessions=${sessionsLabel(row)} decode=${s.decodeThreads} batch=${s.maxBatch} wait=${s.maxWaitMs}: ` +
          (row.error
            ? `failed: ${row.error}`
            : `${row.images_per_s} img/s, p50 ${row.latency_ms_p50} ms, p95 ${row.latency_ms_p95} ms, mean batch ${row.mean_batch}, other load ${row.other_load_cores}`),
      );
    }
  }
  return {
    concurrency: CONCURRENCY,
    shrink_on_load: shrink,
    grid: quick ? 'quick' : fullGrid ? 'full' : 'small',
    rows,
  };
}
