import { Option, type Command } from 'commander';
import { createClassifier } from '../engine/classifier.ts';
import { engineOptionsOf } from '../engine/engine-config.ts';
import { progressReporter } from '../engine/download-progress.ts';
import { ClassifierError } from '../errors.ts';
import { addSettingOptions, loadCommandSettings } from '../settings/options.ts';
import type { Settings } from '../settings/table.ts';
import { localSourceOptions } from '../sources/policy.ts';
import { collectImages } from './collect-images.ts';
import { startProgress } from './progress.ts';
import { openReportWriter, readPreviousReports, reportKey, type OutputFormat } from './report-writer.ts';

/** The flags that are not settings (those are read through the settings table). */
interface ClassifyFlags {
  format: OutputFormat;
  output?: string;
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
    .description('Classify image files, folders (recursively), globs or http(s) URLs')
    .argument('<inputs...>', 'files, folders, globs or URLs')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'jsonl', 'csv']).default('table'),
    )
    .option('-o, --output <file>', 'write results to a file instead of standard output')
    .option('--resume', 'skip images already in --output (csv, jsonl or json)')
    .option('--marine-only', 'rank only the marine animal classes')
    .option('-q, --quiet', 'no progress output');
  addSettingOptions(command, 'classify').action(async (inputs: string[], flags: ClassifyFlags) => {
    process.exitCode = await runClassify(inputs, flags, loadCommandSettings(command, 'classify'));
  });
}

async function runClassify(inputs: string[], flags: ClassifyFlags, settings: Settings): Promise<number> {
  const { topK, minScore } = settings;
  if (flags.resume && !flags.output)
    throw new ClassifierError(
      'resume_needs_output',
      '--resume needs --output FILE: the file holds what was already done.',
    );

  const collected = await collectImages(inputs);
  for (const arg of collected.missing) console.error(`warning: nothing found at ${arg}`);
  const previous =
    flags.output && flags.resume
      ? await readPreviousReports(flags.output, flags.format, topK)
      : { keys: new Set<string>(), jsonRecords: [] };
  const todo = collected.images.filter((item) => !previous.keys.has(reportKey(item)));
  const log = (line: string) => !flags.quiet && console.error(line);
  log(
    `${collected.images.length} images found${collected.skipped ? `, ${collected.skipped} other files skipped` : ''}${previous.keys.size ? `, ${collected.images.length - todo.length} already in ${flags.output}` : ''}.`,
  );
  if (collected.images.length === 0 && collected.missing.length > 0) return EXIT_FATAL;

  const progress = flags.quiet || todo.length === 0 ? null : startProgress(todo.length);
  const writer = openReportWriter({
    format: flags.format,
    topK,
    output: flags.output ?? null,
    append: Boolean(flags.resume),
    previous,
    stdout: (line) => (progress ? progress.log(line) : process.stdout.write(`${line}\n`)),
  });
  if (todo.length === 0) {
    await writer.close();
    return 0;
  }

  const engine = engineOptionsOf(settings);
  const classifier = await createClassifier({
    ...engine,
    // A folder keeps every lane busy, and one image costs less on one thread than loading one more
    // session: the CLI has no use for the low-latency solo session unless asked for it.
    soloSession: engine.soloSession ?? false,
    onDownloadProgress: flags.quiet ? undefined : progressReporter('model'),
    sources: localSourceOptions(settings),
  });
  let failures = 0;
  let interrupted = false;
  const stopTaking = () => {
    interrupted = true;
  };
  process.once('SIGINT', stopTaking);
  process.once('SIGTERM', stopTaking);
  // Stop feeding new images on Ctrl-C; those in flight finish and are written, so --resume continues cleanly.
  async function* pending() {
    for (const item of todo) {
      if (interrupted) return;
      yield item;
    }
  }
  try {
    const concurrency = settings.classifyConcurrency;
    for await (const outcome of classifier.classifyMany(pending(), {
      topK,
      minScore,
      marineOnly: Boolean(flags.marineOnly),
      concurrency,
    })) {
      const path = String(outcome.input);
      if (outcome.error) failures++;
      writer.write({ path, result: outcome.result, error: outcome.error });
      progress?.tick(Boolean(outcome.error));
    }
  } finally {
    progress?.stop();
    await writer.close();
    await classifier.close();
    process.off('SIGINT', stopTaking);
    process.off('SIGTERM', stopTaking);
  }
  if (interrupted) {
    log(`Interrupted; rerun with --resume --output ${flags.output ?? 'FILE'} to continue.`);
    return 130;
  }
  if (failures > 0) log(`${failures} of ${todo.length} images failed; see the error column.`);
  return failures > 0 ? EXIT_IMAGE_FAILURES : 0;
}
