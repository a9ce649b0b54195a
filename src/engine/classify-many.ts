import { toClassifierError } from '../errors.ts';
import type { ClassifierError } from '../errors.ts';
import type { ClassificationResult, ClassifyOptions, ImageInput } from './types.ts';

export type ManyOutcome =
  | { index: number; input: ImageInput; result: ClassificationResult; error?: undefined }
  | { index: number; input: ImageInput; result?: undefined; error: ClassifierError };

/**
 * Runs `classify` over many inputs with at most `concurrency` in flight and yields each outcome
 * as it completes. A failure is an outcome, never a throw, so one bad image never stops a run.
 */
export async function* classifyEach(
  classify: (input: ImageInput, options: ClassifyOptions) => Promise<ClassificationResult>,
  inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
  options: ClassifyOptions,
  concurrency: number,
): AsyncGenerator<ManyOutcome> {
  const running = new Map<number, Promise<ManyOutcome>>();
  const settle = async (input: ImageInput, index: number): Promise<ManyOutcome> => {
    try {
      return { index, input, result: await classify(input, options) };
    } catch (err) {
      return { index, input, error: toClassifierError(err) };
    }
  };
  const next = async () => {
    const outcome = await Promise.race(running.values());
    running.delete(outcome.index);
    return outcome;
  };
  let index = 0;
  for await (const input of inputs) {
    running.set(index, settle(input, index));
    index++;
    if (running.size >= concurrency) yield await next();
  }
  while (running.size > 0) yield await next();
}
