import { Option, type Command } from 'commander';
import { customClassesOf, modelFingerprintOf, openClassSetStore } from '../classes/index.ts';
import { type Classifier, createClassifier } from '../engine/classifier.ts';
import type { CustomClasses } from '../engine/types.ts';
import { engineOptionsOf } from '../engine/engine-config.ts';
import { progressReporter } from '../engine/download-progress.ts';
import { ClassifierError, toClassifierError } from '../errors.ts';
import { addSettingOptions, loadCommandSettings } from '../settings/options.ts';
import type { Settings } from '../settings/table.ts';
import { localSourceOptions } from '../sources/policy.ts';
import { collectImages } from './collect-images.ts';
import { startProgress } from './progress.ts';
import { classifyVideo, type Sampling, type VideoLimits, type VideoResult } from '../engine/video/classify-video.ts';
import { openSummaryWriter, type SummaryWriter, writeThumbnails } from './video-outputs.ts';
import {
  openReportWriter,
  readPreviousReports,
  reportKey,
  type OutputFormat,
  type ReportWriter,
} from './report-writer.ts';
import {
  openSurveyWriter,
  previousSurveyOf,
  type SurveyFormat,
  surveyMetadataOf,
  surveyRootsOf,
} from './survey-writer.ts';

/** The flags that are not settings (those are read through the settings table). */
interface ClassifyFlags {
  format: OutputFormat | SurveyFormat;
  output?: string;
  summary?: string;
  thumbnails?: string;
  resume?: boolean;
  marineOnly?: boolean;
  quiet?: boolean;
}

/** Exit codes: 0 every image classified, 1 some images failed, 2 the run could not start. */
export const EXIT_IMAGE_FAILURES = 1;
export const EXIT_FATAL = 2;

export function registerClassifyCommand(program: Command): void {
  const command = program
    .command('classify')
    .description(
      'Classify image and video files, folders (recursively), globs or http(s) URLs; a video gives one row per sampled frame',
    )
    .argument('<inputs...>', 'files, folders, globs or URLs')
    .addOption(
      new Option('-f, --format <format>', 'output format')
        .choices(['table', 'json', 'jsonl', 'csv', 'camtrap-dp', 'dwc-a'])
        .default('table'),
    )
    .option(
      '-o, --output <path>',
      'write results to a file instead of standard output (camtrap-dp: a folder; dwc-a: a .zip)',
    )
    .option('--resume', 'skip images and videos already in --output (csv, jsonl, json, or a camtrap-dp package folder)')
    .option('--summary <file>', 'videos: write the summary per class and marine group to this CSV file')
    .option('--thumbnails <dir>', 'videos: write the best frame of each class in the summary to this folder as JPEG')
    .option('--marine-only', 'rank only the marine animal classes')
    .option('-q, --quiet', 'no progress output');
  addSettingOptions(command, 'classify').action(async (inputs: string[], flags: ClassifyFlags) => {
    process.exitCode = await runClassify(inputs, flags, loadCommandSettings(command, 'classify'));
  });
}

interface RunPlan {
  /** Images found on the command line, and those of them not yet in the output (--resume). */
  found: number;
  todo: string[];
  previous: Awaited<ReturnType<typeof readPreviousReports>>;
  /** Those of `todo` that are videos. */
  videos: Set<string>;
  /** Nothing found and some arguments matched nothing: the run cannot start. */
  nothingThere: boolean;
}

/** Custom labels per image in the CSV: the answer and two runners-up when a class set is used. */
function customTopKOf(settings: Settings): number {
  return settings.classSet ? 3 : 0;
}

/** The class set named by --classes, fitted for this run; null without one. */
async function customClassesFor(settings: Settings, classifier: Classifier): Promise<CustomClasses | null> {
  if (!settings.classSet) return null;
  const store = openClassSetStore({ dataDir: settings.dataDir as string });
  try {
    const matrix = await store.loadMatrix(settings.classSet, { model: await modelFingerprintOf(classifier.model) });
    return customClassesOf(matrix, { threshold: settings.classThreshold ?? null, topK: customTopKOf(settings) });
  } finally {
    await store.close();
  }
}

async function planRun(
  inputs: string[],
  flags: ClassifyFlags,
  settings: Settings,
  log: Log,
  surveyDone?: (file: string) => boolean,
): Promise<RunPlan> {
  const { topK } = settings;
  if (flags.resume && !flags.output)
    throw new ClassifierError(
      'resume_needs_output',
      '--resume needs --output FILE: the file holds what was already done.',
    );
  const collected = await collectImages(inputs);
  for (const arg of collected.missing) console.error(`warning: nothing found at ${arg}`);
  const previous =
    flags.output && flags.resume && !isSurveyFormat(flags.format)
      ? await readPreviousReports(flags.output, flags.format, topK, customTopKOf(settings))
      : { keys: new Set<string>(), jsonRecords: [] };
  const todo = collected.images.filter((item) => !previous.keys.has(reportKey(item)) && !surveyDone?.(item));
  const skipped = collected.skipped ? `, ${collected.skipped} other files skipped` : '';
  const already = collected.images.length - todo.length;
  const done = already ? `, ${already} already in ${flags.output}` : '';
  const videoCount = collected.videos.size;
  const videos = videoCount ? ` and ${videoCount} video${videoCount === 1 ? '' : 's'}` : '';
  log(`${collected.images.length - videoCount} images${videos} found${skipped}${done}.`);
  const nothingThere = collected.images.length === 0 && collected.missing.length > 0;
  return { found: collected.images.length, todo, previous, nothingThere, videos: collected.videos };
}

type Log = (line: string) => void;

function isSurveyFormat(format: ClassifyFlags['format']): format is SurveyFormat {
  return format === 'camtrap-dp' || format === 'dwc-a';
}

/** For --format camtrap-dp / dwc-a: the package's metadata and the survey folders, checked before any work. */
async function surveyPlanOf(inputs: string[], flags: ClassifyFlags, settings: Settings) {
  if (!flags.output)
    throw new ClassifierError(
      'survey_incomplete',
      `--format ${flags.format} needs --output ${flags.format === 'dwc-a' ? 'FILE.zip' : 'DIR'}.`,
    );
  const meta = await surveyMetadataOf(settings);
  const roots = await surveyRootsOf(inputs);
  const resumed = flags.resume ? await previousSurveyOf(flags.format as SurveyFormat, flags.output, roots) : null;
  return { meta, roots, previous: resumed?.previous ?? null, done: resumed?.done };
}

/**
 * Stops feeding new images on Ctrl-C; those in flight finish and are written, so --resume continues
 * cleanly. A video being decoded is stopped at once (ffmpeg too) and left for --resume.
 */
class Interruption {
  stopped = false;
  readonly #controller = new AbortController();
  readonly signal = this.#controller.signal;
  readonly #stop = () => {
    this.stopped = true;
    this.#controller.abort(new ClassifierError('request_cancelled', 'Interrupted.'));
  };

  constructor() {
    process.once('SIGINT', this.#stop);
    process.once('SIGTERM', this.#stop);
  }

  async *feed(items: string[]): AsyncGenerator<string> {
    for (const item of items) {
      if (this.stopped) return;
      yield item;
    }
  }

  release(): void {
    process.off('SIGINT', this.#stop);
    process.off('SIGTERM', this.#stop);
  }
}

async function openClassifier(settings: Settings, quiet: boolean): Promise<Classifier> {
  const engine = engineOptionsOf(settings);
  return createClassifier({
    ...engine,
    // A folder keeps every lane busy, and one image costs less on one thread than loading one more
    // session: the CLI has no use for the low-latency solo session unless asked for it.
    soloSession: engine.soloSession ?? false,
    onDownloadProgress: quiet ? undefined : progressReporter('model'),
    sources: localSourceOptions(settings),
  });
}

async function runClassify(inputs: string[], flags: ClassifyFlags, settings: Settings): Promise<number> {
  const { topK, minScore } = settings;
  const log: Log = (line) => !flags.quiet && console.error(line);
  const survey = isSurveyFormat(flags.format) ? await surveyPlanOf(inputs, flags, settings) : null;
  const plan = await planRun(inputs, flags, settings, log, survey?.done);
  if (plan.nothingThere) return EXIT_FATAL;
  const { todo } = plan;
  // The model first: if it cannot load, nothing has been written (not half a JSON array on
  // standard output, not a truncated --output file).
  const classifier = todo.length === 0 ? null : await openClassifier(settings, Boolean(flags.quiet));
  const classes = classifier
    ? await customClassesFor(settings, classifier).catch(async (err: unknown) => {
        await classifier.close();
        throw err;
      })
    : null;
  const imageCount = todo.filter((item) => !plan.videos.has(item)).length;
  let progress = flags.quiet || imageCount === 0 ? null : startProgress(imageCount);
  const writer: ReportWriter =
    survey && flags.output && isSurveyFormat(flags.format)
      ? openSurveyWriter(flags.format, flags.output, survey.roots, survey.meta, survey.previous)
      : openReportWriter({
          format: isSurveyFormat(flags.format) ? 'json' : flags.format,
          topK,
          customTopK: customTopKOf(settings),
          output: flags.output ?? null,
          append: Boolean(flags.resume),
          previous: plan.previous,
          stdout: (line) => (progress ? progress.log(line) : process.stdout.write(`${line}\n`)),
        });
  if (!classifier) {
    await writer.close();
    return 0;
  }
  const summary =
    flags.summary && plan.videos.size > 0 ? await openSummaryWriter(flags.summary, Boolean(flags.resume)) : null;

  const interruption = new Interruption();
  let failures = 0;
  try {
    const options = {
      topK,
      minScore,
      marineOnly: Boolean(flags.marineOnly),
      concurrency: settings.classifyConcurrency,
      classes,
    };
    const images = todo.filter((item) => !plan.videos.has(item));
    for await (const outcome of classifier.classifyMany(interruption.feed(images), options)) {
      if (outcome.error) failures++;
      writer.write({ path: String(outcome.input), result: outcome.result, error: outcome.error });
      progress?.tick(Boolean(outcome.error));
    }
    progress?.stop();
    // Video rows are written once each video is done, below its own progress bar.
    progress = null;
    for (const video of todo.filter((item) => plan.videos.has(item))) {
      if (interruption.stopped) break;
      const failed = await runVideo(
        classifier,
        video,
        { ...options, writer, summary, flags, settings, log },
        interruption,
      );
      if (failed) failures++;
    }
  } finally {
    progress?.stop();
    await summary?.close();
    await writer.close();
    await classifier.close();
    interruption.release();
  }
  if (interruption.stopped) {
    log(`Interrupted; rerun with --resume --output ${flags.output ?? 'FILE'} to continue.`);
    return 130;
  }
  if (failures > 0) log(`${failures} of ${todo.length} images and videos failed; see the error column.`);
  return failures > 0 ? EXIT_IMAGE_FAILURES : 0;
}

/** --keyframes, else --fps, else --every. */
export function samplingOf(settings: Settings): Sampling {
  if (settings.videoKeyframes) return { keyframes: true };
  if (settings.videoFps) return { every: 1 / settings.videoFps };
  return { every: settings.videoEvery / 1000 };
}

export function videoLimitsOf(settings: Settings): VideoLimits {
  return {
    ffmpegPath: settings.ffmpegPath ?? null,
    maxVideoSeconds: settings.maxVideoSeconds,
    maxVideoFrames: settings.maxVideoFrames,
    videoStallMs: settings.videoStallMs,
    videoTimeoutMs: settings.videoTimeoutMs,
  };
}

interface VideoRunContext {
  topK: number;
  minScore: number;
  marineOnly: boolean;
  classes: CustomClasses | null;
  writer: ReportWriter;
  summary: SummaryWriter | null;
  flags: ClassifyFlags;
  settings: Settings;
  log: Log;
}

/** One video: its frames with a progress bar by frames, then its rows, summary and thumbnails. True when it failed. */
async function runVideo(
  classifier: Classifier,
  video: string,
  context: VideoRunContext,
  interruption: Interruption,
): Promise<boolean> {
  const { settings, flags } = context;
  let bar: ReturnType<typeof startProgress> | null = null;
  let shown = 0;
  let outcome: { result?: VideoResult; error?: ClassifierError };
  try {
    const result = await classifyVideo(
      classifier,
      video,
      {
        topK: context.topK,
        minScore: context.minScore,
        marineOnly: context.marineOnly,
        classes: context.classes,
        sampling: samplingOf(settings),
        minFrames: settings.minFrames,
        gap: settings.spanGapMs / 1000,
        smooth: settings.smoothFrames,
        limits: videoLimitsOf(settings),
      },
      {
        signal: interruption.signal,
        onProgress: ({ done, total }) => {
          if (flags.quiet) return;
          bar ??= startProgress(total ?? 0, process.stderr, { name: 'frames', of: video });
          for (; shown < done; shown++) bar.tick(false);
        },
      },
    );
    outcome = { result };
  } catch (err) {
    (bar as ReturnType<typeof startProgress> | null)?.stop();
    if (interruption.stopped) return false;
    outcome = { error: toClassifierError(err) };
  }
  (bar as ReturnType<typeof startProgress> | null)?.stop();
  context.writer.writeVideo(video, outcome);
  const { result } = outcome;
  if (result) {
    context.summary?.write(video, result);
    if (flags.thumbnails) {
      const files = await writeThumbnails(flags.thumbnails, video, result, {
        ...videoLimitsOf(settings),
        maxPixels: settings.maxPixels,
      });
      context.log(`${files.length} thumbnails of ${video} written to ${flags.thumbnails}.`);
    }
  }
  const error = outcome.error ?? result?.error;
  if (error) context.log(`${video}: ${error.code}: ${error.message}`);
  return Boolean(error);
}
