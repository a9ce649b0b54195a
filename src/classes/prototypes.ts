import { byLabel, dot, type Example, type LabelScore, meanDirection, vectorsOf } from './vectors.ts';

/** A label's prototype: the normalised mean of its examples' vectors. */
export interface Prototype {
  label: string;
  vector: Float32Array;
  examples: number;
}

export function prototypesOf(examples: readonly Example[], withFlips = false): Prototype[] {
  return [...byLabel(examples)].map(([label, group]) => ({
    label,
    vector: meanDirection(group.flatMap((e) => vectorsOf(e, withFlips))),
    examples: group.length,
  }));
}

/** Every label by cosine similarity to the query, best first. */
export function rankByPrototype(prototypes: readonly Prototype[], query: Float32Array): LabelScore[] {
  return prototypes
    .map(({ label, vector }) => {
      const similarity = dot(vector, query);
      return { label, score: similarity, similarity };
    })
    .sort((a, b) => b.score - a.score);
}
