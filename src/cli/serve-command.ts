import type { Command } from 'commander';

/** Placeholder until the HTTP service lands: `marine-classifier serve`. */
export function registerServeCommand(program: Command): void {
  program.command('serve').description('Start the HTTP service').action(() => {
    console.error('The HTTP service is not built yet.');
    process.exitCode = 2;
  });
}
