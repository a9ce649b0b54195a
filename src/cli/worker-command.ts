import type { Command } from 'commander';
import { addSettingOptions, loadCommandSettings } from '../settings/options.ts';
import { startWorker } from '../worker/start-worker.ts';
import { workerConfigOf } from '../worker/worker-config.ts';

/** `marine-classifier worker`: classifies the jobs an API in Redis mode (QUEUE_URL) queues. */
export function registerWorkerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description('Take classification jobs from Redis (run as many as you like, on any machine)');
  addSettingOptions(command, 'worker').action(async () => {
    const config = workerConfigOf(loadCommandSettings(command, 'worker'));
    const worker = await startWorker(config);

    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          // A second Ctrl-C means "now": running jobs go back to the queue when their locks lapse.
          console.error(`worker ${worker.id}: ${signal} again, exiting without waiting`);
          process.exit(130);
        }
        stopping = true;
        console.error(`worker ${worker.id}: ${signal}: finishing running jobs, taking no new ones`);
        worker.close().then(resolve, (err: unknown) => {
          console.error(`worker ${worker.id}: shutdown failed:`, err);
          process.exitCode = 1;
          resolve();
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    console.error(`worker ${worker.id}: stopped`);
    // Everything is closed; exiting explicitly keeps a connection BullMQ still retries (Redis down) from holding the process up.
    process.exit(process.exitCode ?? 0);
  });
}
