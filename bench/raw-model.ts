/**
 * Part 1: the model alone — preprocessed tensors straight into the ONNX session, no HTTP, no
 * batcher. Also the service's own layout: parallel single-thread sessions fed nonstop.
 */
import { defaultParallelSessions, threadsPerSession } from '../src/engine/classifier.ts';
import { startInferenceLane } from '../src/engine/inference-lane.ts';
import { loadSession, type LoadedSession } from '../src/engine/session.ts';
import {
  cores,
  cpuSnapshot,
  log,
  measureQuietly,
  median,
  MODELS,
  otherBusyCores,
  percentile,
  quick,
  round,
  syntheticInput,
  syntheticPixels,
  waitForQuiet,
  type ModelName,
} from './common.ts';

export interface RawModelRow {
  model: ModelName;
  batch: number;
  runs: number;
  /** batch / median run time: robust to a few runs slowed by other processes. */
  images_per_s: number | null;
  /** Total images / total time over all timed runs. */
  images_per_s_mean: number | null;
  ms_per_batch_p50: number | null;
  ms_per_batch_p95: number | null;
  ms_per_image_p50: number | null;
  other_load_cores: number | null;
}

/** Parallel sessions (the engine's default layout), each running batch after batch at once. */
export interface RawLanesRow {
  model: ModelName;
  sessions: number;
  threads_per_session: number;
  batch: number;
  runs_per_session: number;
  /** All sessions' images ÷ wall time. Includes turning 8-bit crops into the float tensor, as the engine does. */
  images_per_s: number | null;
  other_load_cores: number | null;
}

export interface RawModelResult {
  intra_op_threads: number;
  warmup_runs: number;
  rows: RawModelRow[];
  lanes: RawLanesRow[];
}

export const BATCHES = [1, 4, 8, 16];

/** Timed runs per batch size: fixed, sized so each model takes ~10-25 s on 2 cores. */
const RUNS: Record<ModelName, Record<number, number>> = quick
  ? { 'mobilenetv2-int8': { 1: 20, 4: 10, 8: 6, 16: 4 }, resnet50: { 1: 5, 4: 3, 8: 3, 16: 3 } }
  : { 'mobilenetv2-int8': { 1: 100, 4: 50, 8: 30, 16: 20 }, resnet50: { 1: 24, 4: 12, 8: 10, 16: 8 } };
const WARMUP_RUNS = quick ? 1 : 3;
/**
 * Warm-up also lasts at least this long per model: measured here, the first seconds of a large
 * model in a fresh process run up to 30% slower (memory being touched for the first time), far
 * beyond the first few runs.
 */
const WARMUP_MS = quick ? 1000 : 3000;

function rowOf(model: ModelName, batch: number, times: number[], otherLoad: number | null): RawModelRow {
  const total = times.reduce((a, b) => a + b, 0);
  return {
    model,
    batch,
    runs: times.length,
    images_per_s: round((batch * 1000) / median(times)),
    images_per_s_mean: round((times.length * batch * 1000) / total),
    ms_per_batch_p50: round(median(times)),
    ms_per_batch_p95: round(percentile(times, 95)),
    ms_per_image_p50: round(median(times) / batch, 2),
    other_load_cores: otherLoad,
  };
}

/**
 * Batch sizes are interleaved run by run (1, 4, 8, 16, 1, 4, ...) rather than measured one after
 * another, so a slow spell of the machine hits every batch size alike and their ratios hold.
 */
async function measureModel(
  session: LoadedSession,
  model: ModelName,
  batches: number[],
  runs: Record<number, number>,
): Promise<{ rows: RawModelRow[]; other_load_cores: number | null }> {
  const imageLength = 3 * session.signature.size * session.signature.size;
  const input = syntheticInput(imageLength * Math.max(...batches));
  const warmupStarted = performance.now();
  for (let i = 0; i < WARMUP_RUNS || performance.now() - warmupStarted < WARMUP_MS; i++) {
    for (const batch of batches) await session.run(input, batch);
  }
  await waitForQuiet();
  const cpuBefore = cpuSnapshot();
  const times = new Map(batches.map((b) => [b, [] as number[]]));
  const rounds = Math.max(...batches.map((b) => runs[b]));
  for (let i = 0; i < rounds; i++) {
    for (const batch of batches) {
      if (i >= runs[batch]) continue;
      const t = performance.now();
      await session.run(input, batch);
      times.get(batch)!.push(performance.now() - t);
    }
  }
  const otherLoad = otherBusyCores(cpuBefore, cpuSnapshot());
  return { rows: batches.map((b) => rowOf(model, b, times.get(b)!, otherLoad)), other_load_cores: otherLoad };
}

/** One batch size alone, e.g. batch 8 again right before the HTTP part to see whether the machine drifted. */
export async function rawRate(model: (typeof MODELS)[number], batch: number): Promise<RawModelRow> {
  const session = await loadSession(model.path, { intraOpThreads: cores, executionProvider: 'cpu' });
  // Twice the usual runs: this one number is the denominator of the drift-checked ratios.
  const runs = Object.fromEntries(Object.entries(RUNS[model.name]).map(([b, n]) => [b, n * 2]));
  const result = await measureModel(session, model.name, [batch], runs);
  return result.rows[0];
}

/** The engine's own default layout on this machine. */
export const LANE_SESSIONS = defaultParallelSessions(cores);

export interface RawLanes {
  /** Every session runs batches at once, `runs` each or until `ms` have passed; answers images/s over all of them. */
  rate(limit: { runs: number } | { ms: number }): Promise<number>;
  close(): Promise<void>;
}

/** Sessions on their own threads, as the engine runs them, fed synthetic 8-bit crops. */
export async function startRawLanes(modelPath: string, batch: number, sessions = LANE_SESSIONS): Promise<RawLanes> {
  const threads = threadsPerSession(cores, sessions);
  const lanes = await Promise.all(
    Array.from({ length: sessions }, () =>
      startInferenceLane(modelPath, { intraOpThreads: threads, executionProvider: 'cpu' }),
    ),
  );
  const { size } = lanes[0].signature;
  const crop = syntheticPixels(3 * size * size);
  // Crops move to the inference thread (transferred), so every run needs its own.
  const crops = () => Array.from({ length: batch }, () => crop.slice());
  const runLane = async (lane: (typeof lanes)[number], limit: { runs: number } | { ms: number }, started: number) => {
    let runs = 0;
    while ('runs' in limit ? runs < limit.runs : performance.now() - started < limit.ms) {
      await lane.run(crops());
      runs++;
    }
    return runs;
  };
  await Promise.all(lanes.map((lane) => runLane(lane, { runs: WARMUP_RUNS }, performance.now())));
  return {
    async rate(limit) {
      const started = performance.now();
      const runs = await Promise.all(lanes.map((lane) => runLane(lane, limit, started)));
      return (runs.reduce((a, b) => a + b, 0) * batch * 1000) / (performance.now() - started);
    },
    close: async () => void (await Promise.all(lanes.map((lane) => lane.close()))),
  };
}

async function measureLanes(model: (typeof MODELS)[number], batch: number): Promise<RawLanesRow> {
  const lanes = await startRawLanes(model.path, batch);
  try {
    await waitForQuiet();
    const cpuBefore = cpuSnapshot();
    const runs = Math.max(2, Math.ceil(RUNS[model.name][batch] / LANE_SESSIONS));
    const rate = await lanes.rate({ runs });
    return {
      model: model.name,
      sessions: LANE_SESSIONS,
      threads_per_session: threadsPerSession(cores, LANE_SESSIONS),
      batch,
      runs_per_session: runs,
      images_per_s: round(rate),
      other_load_cores: otherBusyCores(cpuBefore, cpuSnapshot()),
    };
  } finally {
    await lanes.close();
  }
}

export async function benchRawModel(): Promise<RawModelResult> {
  const rows: RawModelRow[] = [];
  const lanes: RawLanesRow[] = [];
  for (const model of MODELS) {
    const session = await loadSession(model.path, { intraOpThreads: cores, executionProvider: 'cpu' });
    const fixed = session.signature.fixedBatch;
    const batches = BATCHES.filter((b) => fixed === null || b === fixed);
    const result = await measureQuietly(`raw ${model.name}`, () =>
      measureModel(session, model.name, batches, RUNS[model.name]),
    );
    for (const row of result.rows) {
      rows.push(row);
      log(
        `raw ${model.name} batch ${row.batch}: ${row.images_per_s} img/s, ${row.ms_per_batch_p50} ms/batch p50, ${row.ms_per_batch_p95} p95, other load ${row.other_load_cores}`,
      );
    }
    if (LANE_SESSIONS > 1 && (fixed === null || fixed === 8)) {
      const row = await measureQuietly(`raw ${model.name} lanes`, () => measureLanes(model, 8));
      lanes.push(row);
      log(
        `raw ${model.name} ${row.sessions} sessions x ${row.threads_per_session} thread(s), batch 8 each: ${row.images_per_s} img/s, other load ${row.other_load_cores}`,
      );
    }
  }
  return { intra_op_threads: cores, warmup_runs: WARMUP_RUNS, rows, lanes };
}
