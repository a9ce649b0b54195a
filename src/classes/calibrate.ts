import { byLabel, dot, type Example, type LabelScore, normalised, vectorsOf } from './vectors.ts';

export const UNKNOWN_LABEL = 'unknown';

/** The share of a set's own photos the default threshold keeps (the rest would be called `unknown`). */
export const DEFAULT_KEEP = 0.97;

export interface Calibration {
  /** Below this cosine similarity to the best prototype the answer is `unknown`. */
  threshold: number;
  /** The share of the examples' leave-one-out similarities at or above the threshold. */
  keep: number;
  /** The leave-one-out similarities it was taken from, lowest first (labels with one example have none). */
  similarities: number[];
}

/**
 * Each example's similarity to its own label's prototype made without it: how a new photo of a
 * known label will score. The threshold keeps `keep` of them; what it rejects of photos of
 * labels the set does not have is a separate question (docs/custom-classes.md states the trade-off).
 */
export function leaveOneOutSimilarities(examples: readonly Example[], withFlips = false): number[] {
  const similarities: number[] = [];
  for (const group of byLabel(examples).values()) {
    if (group.length < 2) continue;
    const sum = new Float32Array(group[0].vector.length);
    for (const example of group)
      for (const v of vectorsOf(example, withFlips)) for (let i = 0; i < sum.length; i++) sum[i] += v[i];
    for (const example of group) {
      const others = sum.slice();
      for (const v of vectorsOf(example, withFlips)) for (let i = 0; i < others.length; i++) others[i] -= v[i];
      similarities.push(dot(normalised(others), example.vector));
    }
  }
  return similarities.sort((a, b) => a - b);
}

/** The threshold that keeps `keep` of the leave-one-out similarities; -1 (nothing unknown) when there are none. */
export function calibrateThreshold(examples: readonly Example[], keep = DEFAULT_KEEP, withFlips = false): Calibration {
  if (!(keep > 0 && keep <= 1)) throw new RangeError(`keep must be in (0, 1], not ${keep}`);
  const similarities = leaveOneOutSimilarities(examples, withFlips);
  if (similarities.length === 0) return { threshold: -1, keep, similarities };
  // Reject at most the lowest (1 - keep) share; the next similarity up is the threshold.
  const rejected = Math.floor(similarities.length * (1 - keep) + 1e-9);
  const threshold = similarities[rejected];
  const kept = similarities.filter((s) => s >= threshold).length / similarities.length;
  return { threshold, keep: kept, similarities };
}

export interface CustomAnswer {
  /** The best label, or `unknown` when its similarity is below the threshold. */
  label: string;
  unknown: boolean;
  similarity: number;
  /** The best labels with their similarities and scores, best first. */
  top: LabelScore[];
}

/** The answer from a ranking: the best label, or `unknown` below the threshold. */
export function decide(ranked: readonly LabelScore[], threshold: number, topK = 3): CustomAnswer {
  const best = ranked[0];
  if (!best) return { label: UNKNOWN_LABEL, unknown: true, similarity: Number.NaN, top: [] };
  const unknown = !(best.similarity >= threshold);
  return {
    label: unknown ? UNKNOWN_LABEL : best.label,
    unknown,
    similarity: best.similarity,
    top: ranked.slice(0, topK),
  };
}
