/** The fingerprint a class set records of the model that made its embeddings. */
import type { ModelDescription } from '../engine/classifier.ts';
import { sha256File } from '../engine/model-files.ts';
import type { ModelFingerprint } from './types.ts';

const hashes = new Map<string, Promise<string>>();

/** The catalogue's sha256 when the model is a catalogue file, else the file's own (hashed once per path). */
export async function modelFingerprintOf(model: ModelDescription): Promise<ModelFingerprint> {
  if (model.catalogue) return { id: model.id, sha256: model.catalogue.sha256 };
  let hash = hashes.get(model.path);
  if (!hash) {
    hash = sha256File(model.path);
    hashes.set(model.path, hash);
  }
  return { id: model.id, sha256: await hash };
}
