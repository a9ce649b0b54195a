import { rankByNeighbours } from './knn.ts';
import { fitLinear, linearProbabilities } from './linear.ts';
import { prototypesOf, rankByPrototype } from './prototypes.ts';
import type { Example, LabelScore } from './vectors.ts';

/**
 * How a photo is matched against a set's examples. `prototype`: nearest normalised mean;
 * `linear`: softmax regression fitted on the examples; `knn`: votes of the k nearest examples.
 * `flips` adds each example's mirror image as one more example.
 */
export interface MatchMethod {
  kind: 'prototype' | 'linear' | 'knn';
  flips: boolean;
  /** Neighbours that vote (knn). */
  k?: number;
}

/** What point 5 of issue 15 measured best on the shared fish set (bench/fewshot.ts, docs/custom-classes.md). */
export const DEFAULT_METHOD: MatchMethod = { kind: 'linear', flips: true };

export type Matcher = (query: Float32Array) => LabelScore[];

/**
 * A matcher fitted on the examples. Whatever ranks the labels, each label's `similarity` is the
 * cosine similarity to its prototype: the one figure the `unknown` threshold is calibrated on.
 */
export function matcherOf(examples: readonly Example[], method: MatchMethod = DEFAULT_METHOD): Matcher {
  const prototypes = prototypesOf(examples, method.flips);
  const withSimilarities = (query: Float32Array, score: (label: string) => number) =>
    rankByPrototype(prototypes, query)
      .map(({ label, similarity }) => ({ label, similarity, score: score(label) }))
      .sort((a, b) => b.score - a.score);
  switch (method.kind) {
    case 'prototype':
      return (query) => rankByPrototype(prototypes, query);
    case 'knn': {
      const k = method.k ?? 5;
      return (query) => {
        const votes = new Map(rankByNeighbours(examples, query, k, method.flips).map((v) => [v.label, v.score]));
        return withSimilarities(query, (label) => votes.get(label) ?? 0);
      };
    }
    case 'linear': {
      const model = fitLinear(examples, { withFlips: method.flips });
      return (query) => {
        const probabilities = linearProbabilities(model, query);
        return withSimilarities(query, (label) => probabilities.get(label) ?? 0);
      };
    }
  }
}
