import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { startInferenceLane, type InferenceLane } from './inference-lane.ts';
import { threadsCpuSeconds } from './thread-cpu.ts';
import sharp from 'sharp';
import { ClassifierError, errorFromReply, shuttingDownError } from '../errors.ts';
import { readImageBytes, sha256Of, type SourceOptions } from '../sources/input.ts';
import { DEFAULT_URL_FETCH_OPTIONS } from '../sources/url.ts';
import { createBatcher, type BatchReport } from './batcher.ts';
import { resolveModel } from './model-files.ts';
import type { CatalogueEntry } from './catalogue.ts';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions, type PreparedPixels } from './preprocess.ts';
import { probabilitiesOf, rankPredictions } from './postprocess.ts';
import type { ModelSignature, SessionOptions } from './session.ts';
import type { ClassificationResult, ClassifyOptions, ImageInput } from './types.ts';
import { classifyEach, type ManyOutcome } from './classify-many.ts';
import { laneTimingsOf, parallelSessionsFor, referenceJpeg, type LaneTimings } from './lane-choice.ts';

export type { ManyOutcome };
import { siblingWorker, workerModule } from './workers/worker-module.ts';
import type { PreprocessReply, PreprocessTask } from './workers/preprocess-worker.ts';

export interface ClassifierOptions {
  /** A local ImageNet ONNX classifier; wins over modelId. */
  modelPath?: string | null;
  /** A catalogue id, downloaded (and verified) on first use. */
  modelId?: string | null;
  cacheDir?: string;
  download?: boolean;
  onDownloadProgress?: (receivedBytes: number, totalBytes: number) => void;
  /** ONNX Runtime threads in all: each parallel session gets its share, the solo session all of them. */
  intraOpThreads?: number;
  /**
   * Sessions that run batches side by side (each its own copy of the model in memory). Unset:
   * as many as the threads allow, cut to one at start-up when the model is light (lane-choice.ts).
   */
  parallelSessions?: number;
  /** One more session with every thread, for a lone image when the others are idle (lower latency). */
  soloSession?: boolean;
  executionProvider?: SessionOptions['executionProvider'];
  /** Let idle ONNX Runtime threads busy-wait (off by default: they would take the decoders' cores). */
  allowSpinning?: boolean;
  maxBatch?: number;
  maxWaitMs?: number;
  /** Threads that decode and preprocess images. */
  decodeThreads?: number;
  maxPixels?: number;
  shrinkOnLoad?: boolean;
  sources?: Partial<Omit<SourceOptions, 'url'>> & { url?: SourceOptions['url'] };
  /** Called after every model run, for metrics. */
  onBatch?: (report: BatchReport) => void;
}

export interface ModelDescription {
  id: string;
  path: string;
  catalogue: CatalogueEntry | null;
  signature: ModelSignature;
}

export interface ClassifierSettings {
  intraOpThreads: number;
  parallelSessions: number;
  /** ONNX Runtime threads of each parallel session. */
  sessionThreads: number;
  soloSession: boolean;
  decodeThreads: number;
  maxBatch: number;
  maxWaitMs: number;
  maxPixels: number;
  shrinkOnLoad: boolean;
  maxImageBytes: number;
  /** The start-up timings parallelSessions was chosen from; absent when it was set or could not vary. */
  laneTimings?: LaneTimings;
}

export interface Classifier {
  readonly model: ModelDescription;
  readonly settings: ClassifierSettings;
  classify(input: ImageInput, options?: ClassifyOptions): Promise<ClassificationResult>;
  /** Classifies many inputs with bounded concurrency; yields each outcome as it completes. A failure is an outcome, never a throw. */
  classifyMany(
    inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
    options?: ClassifyOptions & { concurrency?: number },
  ): AsyncGenerator<ManyOutcome>;
  /** Images accepted but not yet answered. */
  inFlight(): number;
  /** CPU seconds the model's threads have used since start; null where unknown (not Linux, no local model). */
  inferenceCpuSeconds(): number | null;
  close(): Promise<void>;
}

/** Two sessions side by side once there are two threads to share (README "Performance"). */
export function defaultParallelSessions(intraOpThreads: number): number {
  return intraOpThreads >= 2 ? 2 : 1;
}

/** Each parallel session's share of the intra-op threads. */
export function threadsPerSession(intraOpThreads: number, parallelSessions: number): number {
  return Math.max(1, Math.floor(intraOpThreads / parallelSessions));
}

/** Defaults chosen from `npm run bench` on a 2-core machine; see README "Performance". */
function settingsOf(options: ClassifierOptions): ClassifierSettings {
  const cores = availableParallelism();
  const intraOpThreads = options.intraOpThreads ?? cores;
  const parallelSessions = Math.min(
    options.parallelSessions ?? defaultParallelSessions(intraOpThreads),
    intraOpThreads,
  );
  return {
    intraOpThreads,
    parallelSessions,
    sessionThreads: threadsPerSession(intraOpThreads, parallelSessions),
    soloSession: options.soloSession ?? parallelSessions > 1,
    decodeThreads: options.decodeThreads ?? cores,
    maxBatch: options.maxBatch ?? 8,
    maxWaitMs: options.maxWaitMs ?? 2,
    maxPixels: options.maxPixels ?? DEFAULT_PREPROCESS_OPTIONS.maxPixels,
    shrinkOnLoad: options.shrinkOnLoad ?? DEFAULT_PREPROCESS_OPTIONS.shrinkOnLoad,
    maxImageBytes: options.sources?.maxBytes ?? DEFAULT_URL_FETCH_OPTIONS.maxBytes,
  };
}

/** One line for the start-up log: how the engine runs the model, and why when it chose by measuring. */
export function settingsSummary(settings: ClassifierSettings): string {
  const sessions = `${settings.parallelSessions} parallel session${settings.parallelSessions === 1 ? '' : 's'} x ${settings.sessionThreads} thread${settings.sessionThreads === 1 ? '' : 's'}`;
  const solo = settings.soloSession ? ` + a solo session with ${settings.intraOpThreads} threads` : '';
  const timings = settings.laneTimings;
  const why = timings
    ? ` (measured at start-up: the model ${timings.model_ms} ms per image on one thread, decoding ${timings.decode_ms} ms)`
    : '';
  return `Engine: ${sessions}${solo}, ${settings.decodeThreads} decoding threads, batches up to ${settings.maxBatch}${why}`;
}

export function validateClassifyOptions(options: ClassifyOptions = {}): Required<ClassifyOptions> {
  const topK = options.topK ?? 5;
  const minScore = options.minScore ?? 0;
  if (!Number.isInteger(topK) || topK < 1 || topK > 1000) {
    throw new ClassifierError('invalid_top_k', `top_k must be a whole number from 1 to 1000, not ${topK}.`);
  }
  if (typeof minScore !== 'number' || !(minScore >= 0 && minScore <= 1)) {
    throw new ClassifierError('invalid_min_score', `min_score must be a number from 0 to 1, not ${minScore}.`);
  }
  return { topK, minScore, marineOnly: options.marineOnly ?? false };
}

export async function createClassifier(options: ClassifierOptions = {}): Promise<Classifier> {
  const settings = settingsOf(options);
  const location = await resolveModel({
    modelPath: options.modelPath,
    modelId: options.modelId,
    cacheDir: options.cacheDir,
    download: options.download,
    onProgress: options.onDownloadProgress,
  });

  const sessionOptions = (intraOpThreads: number): SessionOptions => ({
    intraOpThreads,
    executionProvider: options.executionProvider ?? 'cpu',
    allowSpinning: options.allowSpinning ?? false,
  });
  const choosingLanes =
    options.parallelSessions === undefined &&
    settings.parallelSessions > 1 &&
    (options.executionProvider ?? 'cpu') === 'cpu';
  // Made while the sessions load, for the start-up timing below (~50 ms of sharp).
  const reference = choosingLanes ? referenceJpeg().catch(() => null) : null;
  const lanes = await Promise.allSettled([
    ...Array.from({ length: settings.parallelSessions }, () =>
      startInferenceLane(location.path, sessionOptions(settings.sessionThreads)),
    ),
    ...(settings.soloSession ? [startInferenceLane(location.path, sessionOptions(settings.intraOpThreads))] : []),
  ]);
  const started = lanes.flatMap((lane) => (lane.status === 'fulfilled' ? [lane.value] : []));
  const failed = lanes.find((lane) => lane.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((lane) => lane.close()));
    throw failed.reason;
  }
  let parallelLanes = started.slice(0, settings.parallelSessions);
  const soloLane = settings.soloSession ? started[settings.parallelSessions] : undefined;
  const signature = started[0].signature;

  const preprocessWorker = workerModule(siblingWorker('preprocess-worker'));
  const preprocessPool = new Piscina<PreprocessTask, PreprocessReply>({
    filename: preprocessWorker.filename,
    execArgv: preprocessWorker.execArgv,
    minThreads: settings.decodeThreads,
    maxThreads: settings.decodeThreads,
    idleTimeout: Infinity,
  });
  const preprocessOptions: PreprocessOptions = {
    size: signature.size,
    resizeShortSide: Math.round((signature.size * 256) / 224),
    layout: signature.layout,
    maxPixels: settings.maxPixels,
    shrinkOnLoad: settings.shrinkOnLoad,
  };
  // Load the decoding code in every thread now, so the first requests do not pay for it.
  const warmUpImage = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#3366aa' } })
    .jpeg()
    .toBuffer();
  await Promise.all(
    Array.from({ length: settings.decodeThreads }, () =>
      preprocessPool.run({ bytes: warmUpImage, options: preprocessOptions }),
    ),
  );

  if (choosingLanes) {
    // A model that cannot run here fails its first request with the real error; the choice just keeps every session.
    const timings = await timeLane(parallelLanes[0], await reference).catch(() => null);
    const needed = timings ? parallelSessionsFor(timings, parallelLanes.length) : parallelLanes.length;
    await Promise.all(parallelLanes.slice(needed).map((lane) => lane.close()));
    parallelLanes = parallelLanes.slice(0, needed);
    settings.parallelSessions = needed;
    if (timings) settings.laneTimings = timings;
  }
  const lanesInUse = [...parallelLanes, ...(soloLane ? [soloLane] : [])];
  const inferenceThreads = [...new Set(lanesInUse.flatMap((lane) => lane.threads))];

  // Images between acceptance and the batcher: the batcher waits for company only while some are on their way.
  let arriving = 0;
  const batcher = createBatcher<Uint8Array>(
    { parallel: parallelLanes.map((lane) => lane.run), solo: soloLane?.run },
    {
      maxBatch: Math.min(settings.maxBatch, signature.fixedBatch ?? Infinity),
      maxWaitMs: settings.maxWaitMs,
      itemLength: 3 * signature.size * signature.size,
      outputLength: signature.classes,
      arriving: () => arriving,
    },
    options.onBatch,
  );

  const sourceOptions: SourceOptions = {
    maxBytes: settings.maxImageBytes,
    allowFiles: options.sources?.allowFiles ?? true,
    imageRoot: options.sources?.imageRoot ?? null,
    url: { ...DEFAULT_URL_FETCH_OPTIONS, maxBytes: settings.maxImageBytes, ...options.sources?.url },
  };
  const model: ModelDescription = { id: location.id, path: location.path, catalogue: location.entry, signature };
  let inFlight = 0;
  let idle: (() => void) | null = null;
  let closed = false;

  async function preprocess(bytes: Buffer): Promise<PreparedPixels> {
    const reply = await preprocessPool.run({ bytes, options: preprocessOptions });
    if (!reply.ok) throw errorFromReply(reply.error);
    return reply.result;
  }

  /** One parallel session's time per image and a decoding thread's time per ImageNet-size image, right now. */
  async function timeLane(lane: InferenceLane, reference: Buffer | null): Promise<LaneTimings> {
    if (!reference) throw new Error('no reference image');
    let pixels: Uint8Array = new Uint8Array(0);
    return laneTimingsOf(
      async () => (pixels = (await preprocess(reference)).pixels),
      // run() takes the pixels' memory, so every run gets its own copy.
      () => lane.run([pixels.slice()]),
    );
  }

  async function classify(input: ImageInput, classifyOptions?: ClassifyOptions): Promise<ClassificationResult> {
    if (closed) throw shuttingDownError();
    const started = performance.now();
    const rank = validateClassifyOptions(classifyOptions);
    inFlight++;
    arriving++;
    let submitted = false;
    try {
      const { bytes, fetch_ms } = await readImageBytes(input, sourceOptions);
      const decodeStarted = performance.now();
      const prepared = await preprocess(bytes);
      const decode_ms = performance.now() - decodeStarted;
      arriving--;
      submitted = true;
      const batched = await batcher.submit(prepared.pixels);
      const ranked = rankPredictions(probabilitiesOf(batched.scores), rank);
      return {
        answer: ranked.answer,
        unknown: ranked.unknown,
        top1: ranked.top1,
        predictions: ranked.predictions,
        image: prepared.image,
        model: model.id,
        sha256: sha256Of(bytes),
        timings: {
          fetch_ms,
          decode_ms,
          queue_ms: batched.queue_ms,
          inference_ms: batched.inference_ms,
          total_ms: performance.now() - started,
        },
      };
    } finally {
      if (!submitted) arriving--;
      inFlight--;
      if (inFlight === 0) idle?.();
    }
  }

  function classifyMany(
    inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
    { concurrency, ...classifyOptions }: ClassifyOptions & { concurrency?: number } = {},
  ): AsyncGenerator<ManyOutcome> {
    validateClassifyOptions(classifyOptions);
    // Enough in flight to keep decoding threads and full batches busy, few enough to bound memory.
    return classifyEach(
      classify,
      inputs,
      classifyOptions,
      concurrency ?? settings.decodeThreads * 2 + settings.maxBatch * 2,
    );
  }

  return {
    model,
    settings,
    classify,
    classifyMany,
    inFlight: () => inFlight,
    inferenceCpuSeconds: () => threadsCpuSeconds(inferenceThreads),
    async close() {
      closed = true;
      // Let every accepted image finish (some may still be decoding) before the threads go away.
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      await batcher.drain();
      await Promise.all([preprocessPool.destroy(), ...lanesInUse.map((lane) => lane.close())]);
    },
  };
}
