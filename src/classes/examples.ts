/**
 * Photos made into examples: each goes through the engine's embed() (the pooled features of the
 * same model run that classifies), a photo that cannot be read is reported and left out, and the
 * rest are added to a set in one write. The CLI, the in-process API and the Redis workers all
 * teach sets through here.
 */
import type { Classifier } from '../engine/classifier.ts';
import type { ImageInput } from '../engine/types.ts';
import { type ClassifierError, toClassifierError } from '../errors.ts';
import { checkLabel, modelMismatch, sameModel } from './checks.ts';
import { modelFingerprintOf } from './model-fingerprint.ts';
import type { ClassSetStore, ClassSetSummary, DuplicateExample, ExampleInput } from './types.ts';

/** One photo to teach: its label, the image (bytes, path or URL) and how people name it. */
export interface LabelledImage {
  label: string;
  input: ImageInput;
  source: string;
}

export interface SkippedImage {
  source: string;
  label: string;
  error: ClassifierError;
}

export type EmbedOutcome =
  | { ok: true; item: LabelledImage }
  | { ok: false; item: LabelledImage; error: ClassifierError };

export interface EmbeddedImages {
  /** In the order the images were given. */
  examples: ExampleInput[];
  skipped: SkippedImage[];
}

/** The engine parts teaching needs. */
export type EmbeddingEngine = Pick<Classifier, 'embed' | 'settings' | 'model'>;

/** Every label checked before any photo is embedded: a bad label is the caller's mistake, found at once. */
export function checkLabels(items: readonly LabelledImage[]): LabelledImage[] {
  return items.map((item) => ({ ...item, label: checkLabel(item.label) }));
}

/** Embeds every image, enough at a time to keep the engine's batches full; `onEach` hears of each as it ends. */
export async function embedImages(
  engine: EmbeddingEngine,
  items: readonly LabelledImage[],
  onEach?: (outcome: EmbedOutcome) => void,
): Promise<EmbeddedImages> {
  const found: (ExampleInput | null)[] = new Array(items.length).fill(null);
  const skipped: (SkippedImage | null)[] = new Array(items.length).fill(null);
  const limit = Math.max(4, engine.settings.maxBatch * 2);
  let next = 0;
  const work = async () => {
    while (next < items.length) {
      const index = next++;
      const item = items[index];
      try {
        const embedding = await engine.embed(item.input);
        found[index] = { label: item.label, vector: embedding.vector, sha256: embedding.sha256, source: item.source };
        onEach?.({ ok: true, item });
      } catch (err) {
        const error = toClassifierError(err);
        skipped[index] = { source: item.source, label: item.label, error };
        onEach?.({ ok: false, item, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, work));
  return {
    examples: found.filter((e): e is ExampleInput => e !== null),
    skipped: skipped.filter((s): s is SkippedImage => s !== null),
  };
}

export interface TaughtImages {
  added: number;
  duplicates: DuplicateExample[];
  skipped: SkippedImage[];
  summary: ClassSetSummary;
}

/**
 * Adds photos to an existing set: labels checked, the set looked up (class_set_not_found before
 * any photo is embedded), the photos embedded, and what could be read stored in one write (a
 * photo already in the set, or twice in this call, is counted once and reported).
 */
export async function teachImages(
  store: ClassSetStore,
  engine: EmbeddingEngine,
  name: string,
  images: readonly LabelledImage[],
  onEach?: (outcome: EmbedOutcome) => void,
): Promise<TaughtImages> {
  const items = checkLabels(images);
  const set = await store.get(name);
  const model = await modelFingerprintOf(engine.model);
  // Refused before the work: embeddings from another model would be refused by the store after it.
  if (set.model && !sameModel(set.model, model)) throw modelMismatch(name, set.model, model);
  const { examples, skipped } = await embedImages(engine, items, onEach);
  if (examples.length === 0) return { added: 0, duplicates: [], skipped, summary: await store.get(name) };
  const result = await store.addExamples(name, model, examples);
  return { added: result.added, duplicates: result.duplicates, skipped, summary: result.summary };
}
