import type { Command } from 'commander';
import { DEFAULT_MODEL_ID } from '../engine/catalogue.ts';
import { settingsSummary } from '../engine/classifier.ts';
import { progressReporter } from '../engine/download-progress.ts';
import { serviceConfigOf } from '../http/config.ts';
import { shownModel } from '../http/model-view.ts';
import { startService } from '../http/service.ts';
import { addSettingOptions, loadCommandSettings } from '../settings/options.ts';

/** Resolves on the first SIGTERM or SIGINT; a second one means "now", and exits at once. */
function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** `marine-classifier serve`: the HTTP API, the page and the job queue in one process. */
export function registerServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description('Start the HTTP service (API at /classify and /jobs, docs at /docs, page at /)');
  addSettingOptions(command, 'serve').action(async () => {
    const config = serviceConfigOf(loadCommandSettings(command, 'serve'));
    const modelName = config.engine.modelPath ?? config.engine.modelId ?? DEFAULT_MODEL_ID;
    const service = await startService(config, { onDownloadProgress: progressReporter(`Downloading ${modelName}`) });
    const log = service.app.log;
    log.info(
      { url: service.url, model: shownModel(await service.classifier.model()).id },
      `Marine Classifier listening on ${service.url} (API docs at ${service.url}/docs)`,
    );
    // With the Redis queue there is no engine here; the workers log their own settings.
    if (service.engine?.model.choice)
      log.info({ model: service.engine.model.id }, `Model: ${service.engine.model.choice}`);
    if (service.engine) log.info({ engine: service.engine.settings }, settingsSummary(service.engine.settings));

    const signal = await shutdownSignal();
    log.info({ signal }, 'Shutting down: no new requests; finishing requests and running jobs');
    await service.close();
    log.info('Stopped');
    // Everything is closed; exiting explicitly keeps a stray timer in a dependency from holding the process up.
    process.exit(0);
  });
}
