/**
 * Class sets where images are classified: a job's options name a set (plain JSON), and here that
 * name becomes the engine's CustomClasses (fitted once per change of the set, by the resolver);
 * an examples job's photos are embedded and stored. The in-process API and the Redis workers
 * both use these, so a set is taught and used the same way in both deployments.
 */
import { type ClassSetResolver, type ClassSetStore, type ClassSetSummary, teachImages } from '../classes/index.ts';
import type { ClassificationResult, ClassifyOptions, ImageInput } from '../engine/types.ts';
import { ClassifierError } from '../errors.ts';
import { errorBodyOf } from './error-body.ts';
import { engineInputOf, sourceLabelOf } from './image-spec.ts';
import type { EmbeddingEngine, LabelledImage } from '../classes/index.ts';
import type {
  ClassSetView,
  ErrorBody,
  ExamplesResult,
  ExamplesRunner,
  JobClassifyFn,
  JobOptions,
  JobProgress,
} from './types.ts';

type EngineClassifyFn = (
  input: ImageInput,
  options?: ClassifyOptions,
  cancel?: AbortSignal,
) => Promise<ClassificationResult>;

/** The engine's options for a job's: the named set resolved (class_set_not_found, class_set_model_mismatch). */
export async function engineOptionsOf(
  options: JobOptions,
  resolver: ClassSetResolver | null,
): Promise<ClassifyOptions> {
  const { classSet, classThreshold, ...rest } = options;
  if (classSet === undefined) return rest;
  if (!resolver)
    throw new ClassifierError('internal_error', 'Class sets are not available in this process (no class-set store).');
  return { ...rest, classes: await resolver.classesFor(classSet, classThreshold ?? null) };
}

/** An engine's classify that takes a job's options (a set by name). */
export function resolvingClassify(classify: EngineClassifyFn, resolver: ClassSetResolver | null): JobClassifyFn {
  return async (input, options = {}, cancel) => classify(input, await engineOptionsOf(options, resolver), cancel);
}

export function classSetViewOf(summary: ClassSetSummary): ClassSetView {
  return {
    name: summary.name,
    model: summary.model,
    dim: summary.dim,
    threshold: summary.threshold,
    labels: summary.labels,
    examples: summary.examples,
    created_at: summary.createdAt,
    updated_at: summary.updatedAt,
  };
}

/** Photos added to a set with this process's engine: embedded, the readable ones stored in one write, as the API answers it. */
export async function teach(
  store: ClassSetStore,
  engine: EmbeddingEngine,
  name: string,
  images: readonly LabelledImage[],
  progress?: (progress: JobProgress, photo?: { source: string; error: ErrorBody | null }) => void,
): Promise<ExamplesResult> {
  const total = images.length;
  let done = 0;
  let failed = 0;
  progress?.({ done, failed, total });
  const taught = await teachImages(store, engine, name, images, (outcome) => {
    done++;
    if (!outcome.ok) failed++;
    progress?.(
      { done, failed, total },
      { source: outcome.item.source, error: outcome.ok ? null : errorBodyOf(outcome.error) },
    );
  });
  return {
    added: taught.added,
    duplicates: taught.duplicates.map((d) => ({ source: d.source, label: d.label, existing_label: d.existingLabel })),
    skipped: taught.skipped.map((s) => ({ source: s.source, error: errorBodyOf(s.error) })),
    set: classSetViewOf(taught.summary),
  };
}

/** Runs examples jobs with this process's engine and store. */
export function examplesRunnerOf(store: ClassSetStore, engine: EmbeddingEngine): ExamplesRunner {
  return async (spec, progress) => {
    if (spec.labels.length !== spec.images.length)
      throw new ClassifierError('invalid_request', 'An examples job needs one label per image.');
    const images = spec.images.map((image, i) => ({
      label: spec.labels[i],
      input: engineInputOf(image),
      source: sourceLabelOf(image),
    }));
    return teach(store, engine, spec.set, images, progress);
  };
}
