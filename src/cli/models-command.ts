import type { Command } from 'commander';
import { CATALOGUE, DEFAULT_MODEL_ID } from '../engine/catalogue.ts';
import { progressReporter } from '../engine/download-progress.ts';
import { engineOptionsOf } from '../engine/engine-config.ts';
import { cachedModelPath, isCachedModelValid, resolveModel, sha256File } from '../engine/model-files.ts';
import { loadSession } from '../engine/session.ts';
import { addSettingOptions, loadCommandSettings } from '../settings/options.ts';

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('List, fetch and inspect models');

  const list = models
    .command('list')
    .description('The model catalogue and what is already downloaded')
    .option('--json', 'machine-readable output');
  addSettingOptions(list, 'models', ['cacheDir']).action(async (flags: { json?: boolean }) => {
    const cacheDir = loadCommandSettings(list, 'models', ['cacheDir']).cacheDir as string;
    const rows = await Promise.all(
      CATALOGUE.map(async (entry) => ({
        ...entry,
        default: entry.id === DEFAULT_MODEL_ID,
        cached: await isCachedModelValid(entry, cacheDir),
        path: cachedModelPath(entry, cacheDir),
      })),
    );
    if (flags.json) {
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    console.log(`Model cache: ${cacheDir}`);
    for (const r of rows) {
      console.log(
        `${r.default ? '*' : ' '} ${r.id.padEnd(22)} ${(r.bytes / 1e6).toFixed(1).padStart(6)} MB  ${r.cached ? 'downloaded' : 'not downloaded'}  ${r.description}`,
      );
    }
    console.log('* default. Any other ImageNet ONNX classifier: --model-path FILE or MODEL_PATH.');
  });

  const fetch = models
    .command('fetch')
    .description('Download a catalogue model (verified by size and sha256)')
    .argument('<id>', 'catalogue id');
  addSettingOptions(fetch, 'models', ['cacheDir']).action(async (id: string) => {
    const { cacheDir } = loadCommandSettings(fetch, 'models', ['cacheDir']);
    const location = await resolveModel({ modelId: id, cacheDir, onProgress: progressReporter(id) });
    console.log(`${location.id}: ${location.path}`);
  });

  const info = models
    .command('info')
    .description('Load the configured model and show its inputs, outputs and file hash');
  addSettingOptions(info, 'models').action(async () => {
    const options = engineOptionsOf(loadCommandSettings(info, 'models'));
    const location = await resolveModel({
      modelPath: options.modelPath,
      modelId: options.modelId,
      cacheDir: options.cacheDir,
      download: options.download,
      onProgress: progressReporter('model'),
    });
    const session = await loadSession(location.path, {
      intraOpThreads: options.intraOpThreads ?? 1,
      executionProvider: options.executionProvider ?? 'cpu',
    });
    console.log(
      JSON.stringify(
        {
          id: location.id,
          path: location.path,
          sha256: await sha256File(location.path),
          catalogue: location.entry,
          signature: session.signature,
        },
        null,
        2,
      ),
    );
  });
}
