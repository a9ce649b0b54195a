import type { Command } from 'commander';
import { CATALOGUE, SPEED_MEASURED_ON } from '../engine/catalogue.ts';
import { cpuFlags } from '../engine/cpu-features.ts';
import { defaultModelChoice } from '../engine/default-model.ts';
import { progressReporter } from '../engine/download-progress.ts';
import { engineOptionsOf } from '../engine/engine-config.ts';
import { cachedModelPath, isCachedModelValid, resolveModel, sha256File } from '../engine/model-files.ts';
import { loadSession } from '../engine/session.ts';
import { addSettingOptions, loadCommandSettings } from '../settings/options.ts';

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('List, fetch and inspect models');
  registerList(models);
  registerFetch(models);
  registerInfo(models);
}

function registerList(models: Command): void {
  const list = models
    .command('list')
    .description('The model catalogue and what is already downloaded')
    .option('--json', 'machine-readable output');
  addSettingOptions(list, 'models', ['cacheDir']).action(async (flags: { json?: boolean }) => {
    const cacheDir = loadCommandSettings(list, 'models', ['cacheDir']).cacheDir as string;
    const choice = defaultModelChoice(cpuFlags());
    const rows = await Promise.all(
      CATALOGUE.map(async (entry) => ({
        ...entry,
        default: entry.id === choice.id,
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
      const size = `${(r.bytes / 1e6).toFixed(1).padStart(6)} MB`;
      const state = (r.cached ? 'downloaded' : 'not downloaded').padEnd(14);
      const accuracy = `top-1 ${r.accuracy.top1.toFixed(2)} %`;
      const speed = (r.speed ? `${r.speed.service_requests_per_s} req/s` : 'not measured').padEnd(12);
      console.log(
        `${r.default ? '*' : ' '} ${r.id.padEnd(22)} ${size}  ${accuracy}  ${speed}  ${state}  ${r.description}`,
      );
    }
    console.log(`* default on this machine: ${choice.reason}.`);
    console.log(
      'Accuracy: ImageNet validation, as the ONNX Model Zoo publishes it. Any other ImageNet ONNX classifier: --model-path FILE or MODEL_PATH.',
    );
    console.log(`Speed: POST /classify uploads at 16 clients, measured on a ${SPEED_MEASURED_ON}.`);
  });
}

function registerFetch(models: Command): void {
  const fetch = models
    .command('fetch')
    .description('Download a catalogue model (verified by size and sha256)')
    .argument('<id>', 'catalogue id');
  addSettingOptions(fetch, 'models', ['cacheDir']).action(async (id: string) => {
    const { cacheDir } = loadCommandSettings(fetch, 'models', ['cacheDir']);
    const location = await resolveModel({ modelId: id, cacheDir, onProgress: progressReporter(id) });
    console.log(`${location.id}: ${location.path}`);
  });
}

function registerInfo(models: Command): void {
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
    const sha256 = await sha256File(location.path);
    const described = {
      id: location.id,
      path: location.path,
      sha256,
      catalogue: location.entry,
      signature: session.signature,
    };
    console.log(JSON.stringify(described, null, 2));
  });
}
