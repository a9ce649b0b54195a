import type { ModelDescription } from '../engine/classifier.ts';

/**
 * How /models, /readyz and classifier_model_info describe "no model known yet": in Redis mode
 * before any worker has announced itself. Only the id and path are ever shown besides /models.
 */
export const NO_WORKER_MODEL: ModelDescription = {
  id: 'none (no worker connected)',
  path: '',
  catalogue: null,
  signature: { inputName: '', outputName: '', layout: 'NCHW', size: 224, fixedBatch: null, classes: 1000 },
  embedding: { unavailable: 'no worker has connected yet' },
};

export function shownModel(model: ModelDescription | null): ModelDescription {
  return model ?? NO_WORKER_MODEL;
}
