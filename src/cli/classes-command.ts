/**
 * `marine-classifier classes ...`: teach the model your own species from labelled photos. A set
 * is made from a folder with one sub-folder per label; its photos go through the same engine as
 * `classify` (embed: the pooled features of the same model run) and into the class-set store in
 * DATA_DIR.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  type ClassSetStore,
  type EmbedOutcome,
  embedImages,
  type ExampleInput,
  examplesOf,
  modelFingerprintOf,
  openClassSetStore,
  readExportFile,
  STORED_SET_METHOD,
  teachImages,
  writeExportFile,
} from '../classes/index.ts';
import { type Evaluation, evaluateSplits } from '../classes/evaluate.ts';
import { type Classifier, createClassifier } from '../engine/classifier.ts';
import { engineOptionsOf } from '../engine/engine-config.ts';
import { ClassifierError } from '../errors.ts';
import { addSettingOptions, loadCommandSettings } from '../settings/options.ts';
import type { Settings } from '../settings/table.ts';
import { localSourceOptions } from '../sources/policy.ts';
import { collectImages } from './collect-images.ts';
import { type RunProgress, startProgress } from './progress.ts';

export function registerClassesCommand(program: Command): void {
  const classes = program.command('classes').description('Custom classes: teach your own species from labelled photos');
  registerCreate(classes);
  registerAdd(classes);
  registerList(classes);
  registerShow(classes);
  registerRemove(classes);
  registerExport(classes);
  registerImport(classes);
  registerEvaluate(classes);
}

function storeOf(settings: Settings): ClassSetStore {
  return openClassSetStore({ dataDir: settings.dataDir as string });
}

/** Runs `work` with the store, closing it after; errors reach main's handler (exit code 2). */
async function withStore<T>(settings: Settings, work: (store: ClassSetStore) => Promise<T>): Promise<T> {
  const store = storeOf(settings);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** label -> image files: each sub-folder of `folder` is a label (its exact name), its images found recursively. */
async function labelledImages(folder: string): Promise<{ labels: Map<string, string[]>; skipped: number }> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((err: unknown) => {
    throw new ClassifierError('invalid_request', `Cannot read ${folder}: ${(err as Error).message}.`);
  });
  const labels = new Map<string, string[]>();
  let skipped = 0;
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const found = await collectImages([path.join(folder, entry.name)]);
    skipped += found.skipped;
    if (found.images.length > 0) labels.set(entry.name, found.images);
  }
  if (labels.size === 0)
    throw new ClassifierError(
      'invalid_request',
      `${folder} has no sub-folders with photos: make one sub-folder per label (its name is the label) and put that label's photos in it.`,
    );
  return { labels, skipped };
}

/** Ticks the bar per photo; an unreadable photo is reported (on the bar, or on stderr when quiet). */
function reportOutcome(progress: RunProgress | null): (outcome: EmbedOutcome) => void {
  return (outcome) => {
    if (outcome.ok) return void progress?.tick(false);
    const line = `skipped ${outcome.item.source}: ${outcome.error.code}: ${outcome.error.message}`;
    progress?.log(line);
    progress?.tick(true);
    if (!progress) console.error(line);
  };
}

/** Embeds every photo through the engine, with a progress bar; unreadable photos are reported and left out. */
async function embedAll(
  classifier: Classifier,
  items: { label: string; file: string }[],
  quiet: boolean,
): Promise<ExampleInput[]> {
  const progress = quiet ? null : startProgress(items.length);
  try {
    const { examples } = await embedImages(
      classifier,
      items.map(({ label, file }) => ({ label, input: file, source: file })),
      reportOutcome(progress),
    );
    return examples;
  } finally {
    progress?.stop();
  }
}

async function openEngine(settings: Settings): Promise<Classifier> {
  return createClassifier({ ...engineOptionsOf(settings), soloSession: false, sources: localSourceOptions(settings) });
}

function registerCreate(classes: Command): void {
  const create = classes
    .command('create')
    .description('Make a class set from a folder with one sub-folder per label')
    .argument('<name>', 'the set name (lower-case letters, digits, - and _)')
    .argument('<folder>', 'a folder with one sub-folder of photos per label')
    .option('--replace', 'replace a set of that name')
    .option('-q, --quiet', 'no progress output');
  addSettingOptions(create, 'classes').action(
    async (name: string, folder: string, flags: { replace?: boolean; quiet?: boolean }) => {
      const settings = loadCommandSettings(create, 'classes');
      const { labels, skipped } = await labelledImages(folder);
      const items = [...labels].flatMap(([label, files]) => files.map((file) => ({ label, file })));
      if (!flags.quiet)
        console.error(
          `${items.length} photos under ${labels.size} labels${skipped ? `, ${skipped} other files skipped` : ''}.`,
        );
      await withStore(settings, async (store) => {
        if (!flags.replace && (await store.list()).some((set) => set.name === name))
          throw new ClassifierError(
            'class_set_exists',
            `A class set named ${name} exists already; remove it, or create with --replace.`,
          );
        const classifier = await openEngine(settings);
        try {
          const model = await modelFingerprintOf(classifier.model);
          const examples = await embedAll(classifier, items, Boolean(flags.quiet));
          if (examples.length === 0)
            throw new ClassifierError('invalid_example', 'None of the photos could be read; nothing was stored.');
          const unique = dedupe(examples);
          const dim = examples[0].vector.length;
          const summary = flags.replace
            ? await store.importSet(
                {
                  name,
                  model,
                  dim,
                  threshold: settings.classThreshold ?? null,
                  createdAt: new Date().toISOString(),
                  examples: unique.kept.map((e) => ({ ...e, addedAt: new Date().toISOString() })),
                },
                { replace: true },
              )
            : await store.create({
                name,
                model,
                dim,
                threshold: settings.classThreshold ?? null,
                examples: unique.kept,
              });
          for (const d of unique.duplicates) console.error(`duplicate photo counted once: ${d}`);
          printSummary(summary);
          warnThinLabels(summary.labels);
        } finally {
          await classifier.close();
        }
      });
    },
  );
}

function registerAdd(classes: Command): void {
  const add = classes
    .command('add')
    .description('Add photos to one label of an existing class set (files or folders, searched recursively)')
    .argument('<name>', 'the set name')
    .argument('<label>', 'the label, exactly as it should be answered')
    .argument('<files...>', 'photos, or folders of photos')
    .option('-q, --quiet', 'no progress output');
  addSettingOptions(add, 'classes').action(
    async (name: string, label: string, inputs: string[], flags: { quiet?: boolean }) => {
      const settings = loadCommandSettings(add, 'classes');
      const found = await collectImages(inputs);
      if (found.images.length === 0)
        throw new ClassifierError('invalid_request', `No photos found in ${inputs.join(', ')}; nothing was added.`);
      await withStore(settings, async (store) => {
        await store.get(name); // class_set_not_found before the model loads
        const classifier = await openEngine(settings);
        let progress = flags.quiet ? null : startProgress(found.images.length);
        const stopProgress = () => {
          progress?.stop();
          progress = null;
        };
        try {
          const images = found.images.map((file) => ({ label, input: file, source: file }));
          const taught = await teachImages(store, classifier, name, images, reportOutcome(progress));
          stopProgress();
          if (taught.added === 0 && taught.duplicates.length === 0)
            throw new ClassifierError('invalid_example', 'None of the photos could be read; nothing was added.');
          for (const d of taught.duplicates)
            console.error(`duplicate photo counted once: ${d.source} (already under ${d.existingLabel})`);
          console.error(`added ${taught.added} photo${taught.added === 1 ? '' : 's'} to ${label}.`);
          printSummary(taught.summary);
          warnThinLabels(taught.summary.labels);
        } finally {
          stopProgress();
          await classifier.close();
        }
      });
    },
  );
}

/** The same photo twice (same sha256) is kept once, under the label it came first with. */
function dedupe(examples: ExampleInput[]): { kept: ExampleInput[]; duplicates: string[] } {
  const seen = new Set<string>();
  const kept: ExampleInput[] = [];
  const duplicates: string[] = [];
  for (const example of examples) {
    if (seen.has(example.sha256)) duplicates.push(example.source);
    else {
      seen.add(example.sha256);
      kept.push(example);
    }
  }
  return { kept, duplicates };
}

function warnThinLabels(labels: { label: string; count: number }[]): void {
  if (labels.length === 1)
    console.error('warning: the set has one label; every photo will be that label or "unknown".');
  for (const { label, count } of labels)
    if (count < 5)
      console.error(
        `warning: label ${label} has ${count} photo${count === 1 ? '' : 's'}; 10 or more give far better answers.`,
      );
}

function printSummary(summary: {
  name: string;
  model: { id: string } | null;
  examples: number;
  labels: { label: string; count: number }[];
  threshold: number | null;
}): void {
  console.log(
    `${summary.name}: ${summary.examples} photos, ${summary.labels.length} labels, model ${summary.model?.id ?? 'none yet'}${summary.threshold === null ? '' : `, threshold ${summary.threshold}`}`,
  );
  for (const { label, count } of summary.labels) console.log(`  ${label}: ${count}`);
}

function registerList(classes: Command): void {
  const list = classes
    .command('list')
    .description('The class sets in DATA_DIR')
    .option('--json', 'machine-readable output');
  addSettingOptions(list, 'classes', ['dataDir']).action(async (flags: { json?: boolean }) => {
    const settings = loadCommandSettings(list, 'classes', ['dataDir']);
    await withStore(settings, async (store) => {
      const sets = await store.list();
      if (flags.json) return void console.log(JSON.stringify(sets, null, 2));
      if (sets.length === 0)
        console.log(`No class sets in ${store.where}; make one with: marine-classifier classes create NAME FOLDER`);
      for (const set of sets)
        console.log(
          `${set.name}  ${set.examples} photos, ${set.labels.length} labels, model ${set.model?.id ?? 'none yet'}`,
        );
    });
  });
}

function registerShow(classes: Command): void {
  const show = classes.command('show').description('A class set: labels with photo counts').argument('<name>');
  addSettingOptions(show, 'classes', ['dataDir']).action(async (name: string) => {
    await withStore(loadCommandSettings(show, 'classes', ['dataDir']), async (store) =>
      printSummary(await store.get(name)),
    );
  });
}

function registerRemove(classes: Command): void {
  const remove = classes
    .command('remove')
    .description('Remove a class set, or one label of it')
    .argument('<name>')
    .argument('[label]');
  addSettingOptions(remove, 'classes', ['dataDir']).action(async (name: string, label?: string) => {
    await withStore(loadCommandSettings(remove, 'classes', ['dataDir']), async (store) => {
      if (label === undefined) {
        await store.remove(name);
        console.log(`removed ${name}`);
      } else console.log(`removed ${await store.removeLabel(name, label)} photos of ${label} from ${name}`);
    });
  });
}

function registerExport(classes: Command): void {
  const exp = classes
    .command('export')
    .description('Write a class set to one portable file')
    .argument('<name>')
    .argument('<file>');
  addSettingOptions(exp, 'classes', ['dataDir']).action(async (name: string, file: string) => {
    await withStore(loadCommandSettings(exp, 'classes', ['dataDir']), async (store) => {
      await writeExportFile(await store.exportSet(name), file);
      console.log(`wrote ${name} to ${file}`);
    });
  });
}

function registerImport(classes: Command): void {
  const imp = classes
    .command('import')
    .description('Read a class set from an exported file')
    .argument('<file>')
    .option('--as <name>', 'store it under another name')
    .option('--replace', 'replace a set of that name');
  addSettingOptions(imp, 'classes', ['dataDir']).action(
    async (file: string, flags: { as?: string; replace?: boolean }) => {
      await withStore(loadCommandSettings(imp, 'classes', ['dataDir']), async (store) => {
        printSummary(await store.importSet(await readExportFile(file), { as: flags.as, replace: flags.replace }));
      });
    },
  );
}

function registerEvaluate(classes: Command): void {
  const evaluate = classes
    .command('evaluate')
    .description('How well the set tells its labels apart: repeated K-shot splits of its own photos')
    .argument('<name>')
    .option('--shots <k>', 'photos per label used for teaching in each split (the rest are tested)', '10')
    .option('--splits <n>', 'random splits', '5')
    .option('--json', 'machine-readable output');
  addSettingOptions(evaluate, 'classes', ['dataDir']).action(
    async (name: string, flags: { shots: string; splits: string; json?: boolean }) => {
      await withStore(loadCommandSettings(evaluate, 'classes', ['dataDir']), async (store) => {
        const matrix = await store.loadMatrix(name);
        const evaluation = evaluateSplits(examplesOf(matrix), {
          shots: Number(flags.shots),
          splits: Number(flags.splits),
          method: STORED_SET_METHOD,
        });
        if (flags.json) return void console.log(JSON.stringify(evaluation, null, 2));
        printEvaluation(evaluation);
      });
    },
  );
}

const percent = (value: number | null) => (value === null ? '-' : `${(value * 100).toFixed(1)} %`);

/** Accuracy, per-label recall and precision, the confusion matrix and the labels that need photos, as text. */
function printEvaluation(evaluation: Evaluation): void {
  const protocol = evaluation.protocol;
  const how =
    protocol.kind === 'splits' ? `${protocol.splits} splits of ${protocol.shots} photos per label` : 'leave-one-out';
  console.log(
    `${how}, ${evaluation.tests} tests: top-1 ${percent(evaluation.top1)}, top-3 ${percent(evaluation.top3)}`,
  );
  const width = Math.max(5, ...evaluation.labels.map((l) => l.label.length));
  console.log(`\n${'label'.padEnd(width)}  recall   precision  photos`);
  for (const figures of evaluation.labels)
    console.log(
      `${figures.label.padEnd(width)}  ${percent(figures.recall).padStart(7)}  ${percent(figures.precision).padStart(9)}  ${String(figures.examples).padStart(6)}`,
    );
  const { labels, counts } = evaluation.confusion;
  console.log('\nconfusion (rows: true label, columns: answer, in the order above)');
  for (const [i, label] of labels.entries())
    console.log(`${label.padEnd(width)}  ${counts[i].map((n) => String(n).padStart(4)).join('')}`);
  if (evaluation.needsMorePhotos.length > 0) {
    console.log('\nneeds more photos:');
    for (const { label, why } of evaluation.needsMorePhotos) console.log(`  ${label}: ${why}`);
  }
}
