import type { ClassifyOptions, Prediction } from './types.ts';
import { labelOf, synsetOf } from './labels.ts';
import { MARINE_CLASS_INDICES, marineInfoOf } from './marine.ts';

/**
 * Raw model output -> probabilities over the 1000 ImageNet classes. Exports differ: most give
 * logits (softmax needed), some end in a softmax already, TensorFlow ones add a background class
 * at index 0 (dropped, so indices match the ImageNet-1k list).
 */
export function probabilitiesOf(scores: Float32Array): Float64Array {
  const logits = scores.length === 1001 ? scores.subarray(1) : scores;
  let sum = 0;
  let min = Infinity;
  for (const v of logits) {
    sum += v;
    if (v < min) min = v;
  }
  const alreadyProbabilities = min >= 0 && Math.abs(sum - 1) < 1e-3;
  const out = new Float64Array(logits.length);
  if (alreadyProbabilities) {
    for (let i = 0; i < logits.length; i++) out[i] = logits[i] / sum;
    return out;
  }
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    total += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= total;
  return out;
}

export function predictionOf(index: number, probability: number): Prediction {
  return { index, synset: synsetOf(index), label: labelOf(index), probability, marine: marineInfoOf(index) };
}

export interface RankedPredictions {
  predictions: Prediction[];
  top1: Prediction | null;
  unknown: boolean;
  answer: string;
}

/** Top-k predictions, optionally over the marine classes only, with the `unknown` rule applied. */
export function rankPredictions(probabilities: Float64Array, options: Required<ClassifyOptions>): RankedPredictions {
  let candidates: number[];
  let norm = 1;
  if (options.marineOnly) {
    candidates = [...MARINE_CLASS_INDICES];
    norm = candidates.reduce((s, i) => s + probabilities[i], 0) || 1;
  } else {
    candidates = Array.from({ length: probabilities.length }, (_, i) => i);
  }
  candidates.sort((a, b) => probabilities[b] - probabilities[a]);
  const predictions = candidates.slice(0, options.topK).map((i) => predictionOf(i, probabilities[i] / norm));
  const best = predictions[0] ?? null;
  const unknown = !best || best.probability < options.minScore;
  return { predictions, top1: unknown ? null : best, unknown, answer: unknown ? 'unknown' : best.label };
}
