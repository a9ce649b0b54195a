import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ClassifierError, shuttingDownError } from '../errors.ts';
import { ImageReader, sha256Of, type SourceOptions } from '../sources/input.ts';
import { DEFAULT_URL_FETCH_OPTIONS } from '../sources/url.ts';
import { createBatcher, type Batcher, type BatchedScores, type BatchReport } from './batcher.ts';
import type { CatalogueEntry } from './catalogue.ts';
import { classifyEach, type ManyOutcome } from './classify-many.ts';
import { DecoderPool } from './decoder-pool.ts';
import type { PixelBudgetStats } from './pixel-budget.ts';
import { startInferenceLane, type InferenceLane } from './inference-lane.ts';
import { laneTimingsOf, parallelSessionsFor, referenceJpeg, type LaneTimings } from './lane-choice.ts';
import { resolveModel } from './model-files.ts';
import { probabilitiesOf, rankPredictions } from './postprocess.ts';
import { DEFAULT_PREPROCESS_OPTIONS, type PreparedPixels, type PreprocessOptions, type RawRgb } from './preprocess.ts';
import type { EmbeddingSupport, ModelSignature, SessionOptions } from './session.ts';
import { threadsCpuSeconds } from './thread-cpu.ts';
import type {
  ClassificationResult,
  ClassifyOptions,
  CustomClasses,
  RankOptions,
  EmbedOptions,
  EmbeddingResult,
  ImageInfo,
  ImageInput,
} from './types.ts';
import { SETTINGS, type JpegDecoder, type ResizeMode } from '../settings/table.ts';
import { directJpegAvailable } from './jpeg-native.ts';
import { shrinkOptionsOf } from './shrink-on-load.ts';

export type { ManyOutcome };

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
  /** Pixels decoded at once over all decoding threads; further images wait (pixel-budget.ts). */
  decodePixelBudget?: number;
  /** RESIZE: how much of a photo is decoded (shrink-on-load.ts). */
  resize?: ResizeMode;
  /** JPEG_DECODER: plain JPEGs through libjpeg-turbo directly (auto) or everything through sharp. */
  jpegDecoder?: JpegDecoder;
  sources?: Partial<Omit<SourceOptions, 'url'>> & { url?: SourceOptions['url'] };
  /** Called after every model run, for metrics. */
  onBatch?: (report: BatchReport) => void;
  /** Give the model its pooled features as a second output for embed() (default true; false only to measure). */
  embeddings?: boolean;
}

export interface ModelDescription {
  id: string;
  path: string;
  catalogue: CatalogueEntry | null;
  signature: ModelSignature;
  /** Why this model, when the engine chose it because none was named (see default-model.ts). */
  choice?: string | null;
  /** The pooled tensor embed() reads and its length, or why the model has none. */
  embedding: EmbeddingSupport;
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
  decodePixelBudget: number;
  resize: ResizeMode;
  /** Who decodes plain JPEGs, as it turned out: 'sharp' also when auto found no addon. */
  jpegDecoder: 'libjpeg-turbo' | 'sharp';
  maxImageBytes: number;
  /** The start-up timings parallelSessions was chosen from; absent when it was set or could not vary. */
  laneTimings?: LaneTimings;
}

export interface Classifier {
  readonly model: ModelDescription;
  readonly settings: ClassifierSettings;
  /** `cancel` stops work on the image early, today its URL fetch (the client that asked went away). */
  classify(input: ImageInput, options?: ClassifyOptions, cancel?: AbortSignal): Promise<ClassificationResult>;
  /**
   * The image's pooled features, L2-normalised, from the same decode, batch and model run that
   * classify() uses. Fails with `embeddings_unavailable` when the model has no such tensor.
   */
  embed(input: ImageInput, options?: EmbedOptions, cancel?: AbortSignal): Promise<EmbeddingResult>;
  /**
   * Classifies a picture that is decoded already (a video frame): the same resize, crop, batcher,
   * model and ranking (and class set) as classify(), without reading or decoding bytes.
   */
  classifyFrame(frame: FrameInput, options?: ClassifyOptions, cancel?: AbortSignal): Promise<ClassificationResult>;
  /** Classifies many inputs with bounded concurrency; yields each outcome as it completes. A failure is an outcome, never a throw. */
  classifyMany(
    inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
    options?: ClassifyOptions & { concurrency?: number },
  ): AsyncGenerator<ManyOutcome>;
  /** Images accepted but not yet answered. */
  inFlight(): number;
  /** Decoded pixels in flight against DECODE_PIXEL_BUDGET (what bounds decoding memory). */
  decoding(): PixelBudgetStats;
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

/** The settings table's defaults (chosen from `npm run bench` on a 2-core machine; docs/performance.md). */
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
    maxBatch: options.maxBatch ?? SETTINGS.maxBatch.default,
    maxWaitMs: options.maxWaitMs ?? SETTINGS.maxWaitMs.default,
    maxPixels: options.maxPixels ?? DEFAULT_PREPROCESS_OPTIONS.maxPixels,
    decodePixelBudget: options.decodePixelBudget ?? SETTINGS.decodePixelBudget.default,
    resize: options.resize ?? SETTINGS.resize.default,
    jpegDecoder:
      (options.jpegDecoder ?? SETTINGS.jpegDecoder.default) === 'auto' && directJpegAvailable()
        ? 'libjpeg-turbo'
        : 'sharp',
    maxImageBytes: options.sources?.maxBytes ?? DEFAULT_URL_FETCH_OPTIONS.maxBytes,
  };
}

/** One line for the start-up log: how the engine runs the model, and why when it chose by measuring. */
export function settingsSummary(settings: ClassifierSettings): string {
  const sessions = `${settings.parallelSessions} parallel session${settings.parallelSessions === 1 ? '' : 's'} x ${settings.sessionThreads} thread${settings.sessionThreads === 1 ? '' : 's'}`;
  const solo = settings.soloSession ? ` + a solo session with ${settings.intraOpThreads} threads` : '';
  const timings = settings.laneTimings;
  const why = timings
    ? ` (measured at start-up: the model ${timings.model_ms} ms per image on one thread, decoding through sharp ${timings.decode_ms} ms)`
    : '';
  return `Engine: ${sessions}${solo}, ${settings.decodeThreads} decoding threads (JPEG: ${settings.jpegDecoder}), batches up to ${settings.maxBatch}${why}`;
}

export function validateClassifyOptions(options: ClassifyOptions = {}): RankOptions {
  const topK = options.topK ?? SETTINGS.topK.default;
  const minScore = options.minScore ?? SETTINGS.minScore.default;
  if (!Number.isInteger(topK) || topK < 1 || topK > 1000) {
    throw new ClassifierError('invalid_top_k', `top_k must be a whole number from 1 to 1000, not ${topK}.`);
  }
  if (typeof minScore !== 'number' || !(minScore >= 0 && minScore <= 1)) {
    throw new ClassifierError('invalid_min_score', `min_score must be a number from 0 to 1, not ${minScore}.`);
  }
  return { topK, minScore, marineOnly: options.marineOnly ?? false };
}

/** Loads the model (downloading it when asked) and starts the engine's threads; `close()` releases all of it. */
export function createClassifier(options: ClassifierOptions = {}): Promise<Classifier> {
  return OnnxClassifier.start(options);
}

function sessionOptionsFor(options: ClassifierOptions, intraOpThreads: number): SessionOptions {
  return {
    intraOpThreads,
    executionProvider: options.executionProvider ?? 'cpu',
    allowSpinning: options.allowSpinning ?? SETTINGS.allowSpinning.default,
    embeddings: options.embeddings ?? true,
  };
}

interface Lanes {
  parallel: InferenceLane[];
  solo: InferenceLane | undefined;
}

/** Starts every session at once; when one fails, the others are closed and its error thrown. */
async function startLanes(path: string, settings: ClassifierSettings, options: ClassifierOptions): Promise<Lanes> {
  const lanes = await Promise.allSettled([
    ...Array.from({ length: settings.parallelSessions }, () =>
      startInferenceLane(path, sessionOptionsFor(options, settings.sessionThreads)),
    ),
    ...(settings.soloSession ? [startInferenceLane(path, sessionOptionsFor(options, settings.intraOpThreads))] : []),
  ]);
  const started = lanes.flatMap((lane) => (lane.status === 'fulfilled' ? [lane.value] : []));
  const failed = lanes.find((lane) => lane.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((lane) => lane.close()));
    throw failed.reason;
  }
  return {
    parallel: started.slice(0, settings.parallelSessions),
    solo: settings.soloSession ? started[settings.parallelSessions] : undefined,
  };
}

function preprocessOptionsOf(signature: ModelSignature, settings: ClassifierSettings): PreprocessOptions {
  return {
    size: signature.size,
    resizeShortSide: Math.round((signature.size * 256) / 224),
    layout: signature.layout,
    maxPixels: settings.maxPixels,
    ...shrinkOptionsOf(settings.resize),
    directJpeg: settings.jpegDecoder === 'libjpeg-turbo',
  };
}

/**
 * One parallel session's time per image, and a decoding thread's time per ImageNet-size image through
 * sharp, right now. Through sharp whichever decoder serves requests: the line (lane-choice.ts) stands
 * for decoding plus the rest of a request's work (HTTP, copies), about twice sharp's decoding, and the
 * direct JPEG decoder makes only the first part cheaper.
 */
async function timeLane(lane: InferenceLane, decoders: DecoderPool, reference: Buffer | null): Promise<LaneTimings> {
  if (!reference) throw new Error('no reference image');
  let pixels: Uint8Array = new Uint8Array(0);
  const viaSharp = { ...decoders.options, directJpeg: false };
  return laneTimingsOf(
    async () => {
      pixels = (await decoders.prepare(reference, undefined, viaSharp)).pixels;
    },
    // run() takes the pixels' memory, so every run gets its own copy.
    () => lane.run([pixels.slice()]),
  );
}

/** Keeps as many parallel sessions as the model needs on this machine (lane-choice.ts), closing the rest. */
async function chooseParallelLanes(
  lanes: Lanes,
  decoders: DecoderPool,
  reference: Promise<Buffer | null>,
  settings: ClassifierSettings,
): Promise<void> {
  // A model that cannot run here fails its first request with the real error; the choice just keeps every session.
  const timings = await timeLane(lanes.parallel[0], decoders, await reference).catch(() => null);
  const needed = timings ? parallelSessionsFor(timings, lanes.parallel.length) : lanes.parallel.length;
  await Promise.all(lanes.parallel.slice(needed).map((lane) => lane.close()));
  lanes.parallel = lanes.parallel.slice(0, needed);
  settings.parallelSessions = needed;
  if (timings) settings.laneTimings = timings;
}

function sourceOptionsOf(options: ClassifierOptions, settings: ClassifierSettings): SourceOptions {
  return {
    maxBytes: settings.maxImageBytes,
    allowFiles: options.sources?.allowFiles ?? true,
    imageRoot: options.sources?.imageRoot ?? null,
    url: { ...DEFAULT_URL_FETCH_OPTIONS, maxBytes: settings.maxImageBytes, ...options.sources?.url },
  };
}

/** An image read and decoded, before its model run. */
interface LoadedImage {
  prepared: PreparedPixels;
  fetch_ms: number;
  decode_ms: number;
  /** Computed only once the image is submitted (hashing is not free for video frames). */
  sha256: () => string;
}

/** A picture decoded elsewhere (a video frame from ffmpeg): packed RGB and what to report about it. */
export interface FrameInput extends RawRgb {
  image: ImageInfo;
}

/** One model run of one image, before it becomes a classification or an embedding. */
interface ImageRun {
  batched: BatchedScores;
  image: ImageInfo;
  sha256: string;
  timings: ClassificationResult['timings'];
}

/** A size x size packed-RGB image mirrored left to right. */
export function mirrored(pixels: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    const base = y * row;
    for (let x = 0; x < size; x++) {
      const from = base + x * 3;
      const to = base + (size - 1 - x) * 3;
      out[to] = pixels[from];
      out[to + 1] = pixels[from + 1];
      out[to + 2] = pixels[from + 2];
    }
  }
  return out;
}

/** What a started engine is made of; OnnxClassifier.start builds it. */
interface EngineParts {
  model: ModelDescription;
  settings: ClassifierSettings;
  lanes: Lanes;
  decoders: DecoderPool;
  reader: ImageReader;
  onBatch: ClassifierOptions['onBatch'];
}

/** The engine: reads images, decodes them on the decoding threads, and runs them in batches on the model's sessions. */
class OnnxClassifier implements Classifier {
  readonly model: ModelDescription;
  readonly settings: ClassifierSettings;
  readonly #lanes: InferenceLane[];
  readonly #inferenceThreads: number[];
  readonly #decoders: DecoderPool;
  readonly #reader: ImageReader;
  readonly #batcher: Batcher<Uint8Array>;
  /** Images between acceptance and the batcher: the batcher waits for company only while some are on their way. */
  #arriving = 0;
  #inFlight = 0;
  #idle: (() => void) | null = null;
  #closed = false;

  static async start(options: ClassifierOptions): Promise<OnnxClassifier> {
    const settings = settingsOf(options);
    const location = await resolveModel({
      modelPath: options.modelPath,
      modelId: options.modelId,
      cacheDir: options.cacheDir,
      download: options.download,
      onProgress: options.onDownloadProgress,
    });
    const choosingLanes =
      options.parallelSessions === undefined &&
      settings.parallelSessions > 1 &&
      (options.executionProvider ?? 'cpu') === 'cpu';
    // Made while the sessions load, for the start-up timing below (~50 ms of sharp).
    const reference = choosingLanes ? referenceJpeg().catch(() => null) : null;
    const lanes = await startLanes(location.path, settings, options);
    const signature = lanes.parallel[0].signature;
    const decoders = new DecoderPool(
      settings.decodeThreads,
      preprocessOptionsOf(signature, settings),
      settings.decodePixelBudget,
    );
    await decoders.warmUp();
    if (reference) await chooseParallelLanes(lanes, decoders, reference, settings);
    return new OnnxClassifier({
      model: {
        id: location.id,
        path: location.path,
        catalogue: location.entry,
        signature,
        choice: location.choice,
        embedding: lanes.parallel[0].embedding,
      },
      settings,
      lanes,
      decoders,
      reader: new ImageReader(sourceOptionsOf(options, settings)),
      onBatch: options.onBatch,
    });
  }

  private constructor(parts: EngineParts) {
    const { model, settings, lanes } = parts;
    this.model = model;
    this.settings = settings;
    this.#lanes = [...lanes.parallel, ...(lanes.solo ? [lanes.solo] : [])];
    this.#inferenceThreads = [...new Set(this.#lanes.flatMap((lane) => lane.threads))];
    this.#decoders = parts.decoders;
    this.#reader = parts.reader;
    this.#batcher = createBatcher<Uint8Array>(
      { parallel: lanes.parallel.map((lane) => lane.run), solo: lanes.solo?.run },
      {
        maxBatch: Math.min(settings.maxBatch, model.signature.fixedBatch ?? Infinity),
        maxWaitMs: settings.maxWaitMs,
        itemLength: 3 * model.signature.size * model.signature.size,
        outputLength: model.signature.classes,
        arriving: () => this.#arriving,
      },
      parts.onBatch,
    );
  }

  async classify(
    input: ImageInput,
    classifyOptions?: ClassifyOptions,
    cancel?: AbortSignal,
  ): Promise<ClassificationResult> {
    const rank = validateClassifyOptions(classifyOptions);
    const classes = classifyOptions?.classes ?? null;
    if (classes) this.#embeddingSupport();
    const [run] = await this.#run(input, false, cancel);
    return this.#answerOf(run, rank, classes);
  }

  async classifyFrame(
    frame: FrameInput,
    classifyOptions?: ClassifyOptions,
    cancel?: AbortSignal,
  ): Promise<ClassificationResult> {
    const rank = validateClassifyOptions(classifyOptions);
    const classes = classifyOptions?.classes ?? null;
    if (classes) this.#embeddingSupport();
    const [run] = await this.#runPrepared(async () => {
      const prepared = await this.#decoders.prepareRaw(frame, frame.image, cancel);
      return {
        prepared,
        fetch_ms: 0,
        decode_ms: prepared.decode_ms,
        sha256: () => createHash('sha256').update(frame.data).digest('hex'),
      };
    }, false);
    return this.#answerOf(run, rank, classes);
  }

  /** A model run as the caller's answer: ImageNet's ranking, and the class set's label when one is given. */
  #answerOf(run: ImageRun, rank: RankOptions, classes: CustomClasses | null): ClassificationResult {
    const ranked = rankPredictions(probabilitiesOf(run.batched.scores), rank);
    // The custom answer comes from the same model run's pooled features: no second inference.
    const custom = classes ? classes.match(vectorOf(run.batched)) : undefined;
    return {
      answer: custom ? custom.label : ranked.answer,
      unknown: custom ? custom.unknown : ranked.unknown,
      top1: ranked.top1,
      predictions: ranked.predictions,
      image: run.image,
      model: this.model.id,
      sha256: run.sha256,
      timings: run.timings,
      ...(custom ? { custom } : {}),
    };
  }

  /** Throws embeddings_unavailable when the model has no pooled features. */
  #embeddingSupport(): void {
    const support = this.model.embedding;
    if ('unavailable' in support) {
      throw new ClassifierError(
        'embeddings_unavailable',
        `The model ${this.model.id} gives no embeddings: ${support.unavailable}. It still classifies; ` +
          'custom classes need a model with a pooled feature vector, such as the catalogue models.',
      );
    }
  }

  async embed(input: ImageInput, options: EmbedOptions = {}, cancel?: AbortSignal): Promise<EmbeddingResult> {
    this.#embeddingSupport();
    const [run, flipped] = await this.#run(input, options.flip ?? false, cancel);
    return {
      vector: vectorOf(run.batched),
      flipped: flipped ? vectorOf(flipped.batched) : null,
      image: run.image,
      model: this.model.id,
      sha256: run.sha256,
      timings: run.timings,
    };
  }

  /**
   * Reads, decodes and runs one image through the batcher: the one data path of classify() and
   * embed(). With `flip` its mirror image rides in the same batch (the crop is centred, so the
   * mirrored crop is the crop of the mirrored photo): no second read or decode.
   */
  #run(input: ImageInput, flip: boolean, cancel?: AbortSignal): Promise<ImageRun[]> {
    return this.#runPrepared(async () => {
      const { bytes, fetch_ms } = await this.#reader.read(input, cancel);
      const decodeStarted = performance.now();
      const prepared = await this.#decoders.prepare(bytes, cancel);
      return { prepared, fetch_ms, decode_ms: performance.now() - decodeStarted, sha256: () => sha256Of(bytes) };
    }, flip);
  }

  /** The part of #run after the pixels are ready: the batcher, and the in-flight counts close() waits for. */
  async #runPrepared(load: () => Promise<LoadedImage>, flip: boolean): Promise<ImageRun[]> {
    if (this.#closed) throw shuttingDownError();
    const started = performance.now();
    this.#inFlight++;
    this.#arriving++;
    let submitted = false;
    try {
      const { prepared, fetch_ms, decode_ms, sha256: hash } = await load();
      this.#arriving--;
      submitted = true;
      // The mirror is made first: submitting moves the pixels' memory to the inference thread.
      const images = [prepared.pixels, ...(flip ? [mirrored(prepared.pixels, this.model.signature.size)] : [])];
      const answers = await Promise.all(images.map((pixels) => this.#batcher.submit(pixels)));
      const sha256 = hash();
      return answers.map((batched) => ({
        batched,
        image: prepared.image,
        sha256,
        timings: {
          fetch_ms,
          decode_ms,
          queue_ms: batched.queue_ms,
          inference_ms: batched.inference_ms,
          total_ms: performance.now() - started,
        },
      }));
    } finally {
      if (!submitted) this.#arriving--;
      this.#inFlight--;
      if (this.#inFlight === 0) this.#idle?.();
    }
  }

  classifyMany(
    inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
    { concurrency, ...classifyOptions }: ClassifyOptions & { concurrency?: number } = {},
  ): AsyncGenerator<ManyOutcome> {
    validateClassifyOptions(classifyOptions);
    // Enough in flight to keep decoding threads and full batches busy, few enough to bound memory.
    return classifyEach(
      (input, options) => this.classify(input, options),
      inputs,
      classifyOptions,
      concurrency ?? this.settings.decodeThreads * 2 + this.settings.maxBatch * 2,
    );
  }

  inFlight(): number {
    return this.#inFlight;
  }

  decoding(): PixelBudgetStats {
    return this.#decoders.budget();
  }

  inferenceCpuSeconds(): number | null {
    return threadsCpuSeconds(this.#inferenceThreads);
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Let every accepted image finish (some may still be decoding) before the threads go away.
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    await this.#batcher.drain();
    await Promise.all([this.#decoders.close(), this.#reader.close(), ...this.#lanes.map((lane) => lane.close())]);
  }
}

/** A copy, so the caller keeps only its own image's vector and not the batch's whole output. */
function vectorOf(batched: BatchedScores): Float32Array {
  if (!batched.embedding) throw new ClassifierError('internal_error', 'The model run gave no embedding.');
  return batched.embedding.slice();
}
