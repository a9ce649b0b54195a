import type { Prediction, RankOptions } from './types.ts';
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

/**
 * The indices of the k highest values among `candidates`, highest first; equal values keep
 * their order in `candidates`, as a stable sort would. A full sort of 1000 scores with a
 * comparator was a visible share of the event loop's time under load; for the usual small k one
 * pass that keeps the best k in order is enough.
 */
export function topIndices(values: ArrayLike<number>, candidates: readonly number[] | null, k: number): number[] {
  const count = candidates ? candidates.length : values.length;
  const at = (c: number) => (candidates ? candidates[c] : c);
  if (k * 16 >= count) {
    const all = Array.from({ length: count }, (_, c) => at(c));
    return all.sort((a, b) => values[b] - values[a]).slice(0, k);
  }
  const top: number[] = [];
  for (let c = 0; c < count; c++) {
    const index = at(c);
    const value = values[index];
    if (top.length === k && !(value > values[top[k - 1]])) continue;
    // Fill the next free slot, or overwrite the lowest when full, then move up past smaller values.
    let slot = Math.min(top.length, k - 1);
    while (slot > 0 && values[top[slot - 1]] < value) {
      top[slot] = top[slot - 1];
      slot--;
    }
    top[slot] = index;
  }
  return top;
}

/** Top-k predictions, optionally over the marine classes only, with the `unknown` rule applied. */
export function rankPredictions(probabilities: Float64Array, options: RankOptions): RankedPredictions {
  const candidates = options.marineOnly ? MARINE_CLASS_INDICES : null;
  const norm = candidates ? candidates.reduce((s, i) => s + probabilities[i], 0) || 1 : 1;
  const predictions = topIndices(probabilities, candidates, options.topK).map((i) =>
    predictionOf(i, probabilities[i] / norm),
  );
  const best = predictions[0] ?? null;
  const unknown = !best || best.probability < options.minScore;
  return { predictions, top1: unknown ? null : best, unknown, answer: unknown ? 'unknown' : best.label };
}
