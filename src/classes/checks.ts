/**
 * What a set name, a label, a threshold and an example may be. Both stores and the export reader
 * check through here, so the rules are the same whichever way a set was made.
 */
import { ClassifierError } from '../errors.ts';
import type { ExampleInput, ModelFingerprint } from './types.ts';

export const MAX_LABEL_LENGTH = 100;
export const MAX_SOURCE_LENGTH = 4096;
/** |‖v‖ − 1| allowed for a "unit" vector: float32 sums of 1280 squares drift by about 1e-6. */
const UNIT_TOLERANCE = 1e-3;

const SET_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SHA256 = /^[0-9a-f]{64}$/;
// C0, DEL and C1 controls, and the line and paragraph separators: none belongs in a class name.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

/** The set name, or invalid_class_set_name. Lower case only, so "Reef" and "reef" are never two sets. */
export function checkSetName(name: unknown): string {
  if (typeof name === 'string' && SET_NAME.test(name)) return name;
  throw new ClassifierError(
    'invalid_class_set_name',
    `${JSON.stringify(String(name)).slice(0, 80)} is not a class-set name: use 1 to 64 lower-case letters, digits, "-" or "_", starting with a letter or digit (e.g. "reef-fish").`,
  );
}

/**
 * The label in NFC (a folder name made on macOS comes decomposed; the same name typed elsewhere
 * composed: they must be one label), or invalid_label. Otherwise the text is kept exactly,
 * spaces and case included: the label is the sub-folder's name.
 */
export function checkLabel(label: unknown): string {
  if (typeof label !== 'string') throw invalidLabel(String(label), 'it is not text');
  const text = label.normalize('NFC');
  if (text.trim() === '') throw invalidLabel(text, 'it is empty');
  if ([...text].length > MAX_LABEL_LENGTH) throw invalidLabel(text, `it is longer than ${MAX_LABEL_LENGTH} characters`);
  if (CONTROL.test(text)) throw invalidLabel(text, 'it contains a control character');
  if (text.includes('/') || text.includes('\\')) throw invalidLabel(text, 'it contains "/" or "\\"');
  if (text.includes('..')) throw invalidLabel(text, 'it contains ".."');
  if (text.toLowerCase() === 'unknown')
    throw invalidLabel(text, 'the answer below the threshold is already called "unknown"');
  return text;
}

function invalidLabel(label: string, why: string): ClassifierError {
  const shown = JSON.stringify(label.length > 60 ? `${label.slice(0, 60)}…` : label);
  return new ClassifierError(
    'invalid_label',
    `The label ${shown} cannot be used: ${why}. A label is 1 to ${MAX_LABEL_LENGTH} characters without "/", "\\", ".." or control characters.`,
  );
}

/** A set's threshold override: a cosine similarity, or null for none. */
export function checkThreshold(threshold: unknown): number | null {
  if (threshold === null || threshold === undefined) return null;
  if (typeof threshold === 'number' && Number.isFinite(threshold) && threshold >= -1 && threshold <= 1)
    return threshold;
  throw new ClassifierError(
    'invalid_threshold',
    `The threshold ${String(threshold)} is not a cosine similarity from -1 to 1.`,
  );
}

export function checkModel(model: ModelFingerprint): ModelFingerprint {
  if (
    typeof model?.id !== 'string' ||
    model.id === '' ||
    typeof model.sha256 !== 'string' ||
    !SHA256.test(model.sha256)
  )
    throw new ClassifierError(
      'internal_error',
      `A class set needs the model's id and sha256 (64 lower-case hex digits); got ${JSON.stringify(model)}.`,
    );
  return { id: model.id, sha256: model.sha256 };
}

/** A new set's model and dimension: both given, or both absent (an empty set the first examples fix). */
export function checkHead(
  model: ModelFingerprint | null | undefined,
  dim: number | null | undefined,
): { model: ModelFingerprint; dim: number } | { model: null; dim: null } {
  if ((model === null || model === undefined) && (dim === null || dim === undefined)) return { model: null, dim: null };
  return { model: checkModel(model as ModelFingerprint), dim: checkDim(dim as number) };
}

/** The model of a set that has one; an export needs it. */
export function modelOfSet(name: string, model: ModelFingerprint | null): ModelFingerprint {
  if (model) return model;
  throw emptySet(name);
}

/** The dimension examples added to a set must have: the set's, or (a set with no model yet) the first example's. */
export function dimForAdding(setDim: number | null, examples: readonly ExampleInput[]): number {
  return setDim ?? checkDim(examples[0]?.vector?.length ?? 1);
}

export function checkDim(dim: number): number {
  if (Number.isInteger(dim) && dim >= 1 && dim <= 65_536) return dim;
  throw new ClassifierError('invalid_example', `An embedding of ${dim} numbers cannot be stored.`);
}

/** The example with its label normalised, or invalid_label / invalid_example. */
export function checkExample(example: ExampleInput, dim: number): ExampleInput {
  const label = checkLabel(example.label);
  const where = typeof example.source === 'string' ? example.source.slice(0, 200) : 'an example';
  if (typeof example.sha256 !== 'string' || !SHA256.test(example.sha256))
    throw new ClassifierError('invalid_example', `${where}: the sha256 is not 64 lower-case hex digits.`);
  if (typeof example.source !== 'string' || example.source.length > MAX_SOURCE_LENGTH)
    throw new ClassifierError(
      'invalid_example',
      `${where}: the source is not text of at most ${MAX_SOURCE_LENGTH} characters.`,
    );
  const { vector } = example;
  if (!(vector instanceof Float32Array) || vector.length !== dim)
    throw new ClassifierError(
      'invalid_example',
      `${where}: the embedding has ${vector instanceof Float32Array ? vector.length : 'no'} numbers; this set's have ${dim}.`,
    );
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i] * vector[i];
  if (!Number.isFinite(norm) || Math.abs(Math.sqrt(norm) - 1) > UNIT_TOLERANCE)
    throw new ClassifierError(
      'invalid_example',
      `${where}: the embedding is not L2-normalised (length ${Math.sqrt(norm)}).`,
    );
  return { label, vector, sha256: example.sha256, source: example.source };
}

export function emptySet(name: string): ClassifierError {
  return new ClassifierError(
    'class_set_empty',
    `The class set "${name}" has no photos yet: add labelled photos (\`marine-classifier classes add\`, or POST /class-sets/${name}/examples) first.`,
  );
}

export function notFound(name: string): ClassifierError {
  return new ClassifierError(
    'class_set_not_found',
    `There is no class set "${name}"; \`marine-classifier classes list\` lists the sets there are.`,
  );
}

export function exists(name: string): ClassifierError {
  return new ClassifierError(
    'class_set_exists',
    `A class set "${name}" exists already: remove it first (\`marine-classifier classes remove ${name}\`) or import with replace.`,
  );
}

export function labelNotFound(name: string, label: string): ClassifierError {
  return new ClassifierError('label_not_found', `The class set "${name}" has no label ${JSON.stringify(label)}.`);
}

/**
 * The set's embeddings mean nothing to another network, so the error says which model made them
 * and how to get a set for this one (the photos are not kept, only their embeddings).
 */
export function modelMismatch(name: string, setModel: ModelFingerprint, model: ModelFingerprint): ClassifierError {
  return new ClassifierError(
    'class_set_model_mismatch',
    `The class set "${name}" was made with the model ${setModel.id} (sha256 ${setModel.sha256.slice(0, 12)}…), ` +
      `not ${model.id} (sha256 ${model.sha256.slice(0, 12)}…), and its embeddings only fit that model. ` +
      `Run with that model (MODEL_ID or MODEL_PATH), or rebuild the set with this one: ` +
      `\`marine-classifier classes create ${name}-${safeSuffix(model.id)} FOLDER\` from the same photos.`,
  );
}

function safeSuffix(id: string): string {
  return (
    id
      .toLowerCase()
      .replace(/\.onnx$/, '')
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 20) || 'new'
  );
}

export function sameModel(a: ModelFingerprint, b: ModelFingerprint): boolean {
  return a.sha256 === b.sha256;
}
