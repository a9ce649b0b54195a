import { Command } from 'commander';
import { isClassifierError } from '../errors.ts';
import { registerClassifyCommand, EXIT_FATAL } from './classify-command.ts';
import { registerModelsCommand } from './models-command.ts';
import { registerClassesCommand } from './classes-command.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerWorkerCommand } from './worker-command.ts';

const program = new Command()
  .name('marine-classifier')
  .description('Classify photos with an ImageNet model and tell what they mean for marine life.')
  .showHelpAfterError();
registerClassifyCommand(program);
registerModelsCommand(program);
registerClassesCommand(program);
registerServeCommand(program);
registerWorkerCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Expected failures (missing model, bad option) get their sentence, not a stack trace.
  if (isClassifierError(err)) console.error(`error (${err.code}): ${err.message}`);
  else console.error(err);
  process.exitCode = EXIT_FATAL;
}
