import { dot, type Example, type LabelScore, labelsOf, vectorsOf } from './vectors.ts';

/**
 * The k nearest example vectors vote for their labels, each with its cosine similarity; a
 * label's score is the sum of its votes. Labels without a vote score 0.
 */
export function rankByNeighbours(
  examples: readonly Example[],
  query: Float32Array,
  k: number,
  withFlips = false,
): LabelScore[] {
  const neighbours = examples
    .flatMap((e) => vectorsOf(e, withFlips).map((vector) => ({ label: e.label, similarity: dot(vector, query) })))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
  const scores = new Map(labelsOf(examples).map((label) => [label, { score: 0, similarity: -1 }]));
  for (const { label, similarity } of neighbours) {
    const entry = scores.get(label);
    if (!entry) continue;
    entry.score += similarity;
    entry.similarity = Math.max(entry.similarity, similarity);
  }
  return [...scores]
    .map(([label, { score, similarity }]) => ({ label, score, similarity }))
    .sort((a, b) => b.score - a.score);
}
