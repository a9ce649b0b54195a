import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rankPredictions, topIndices } from '../src/engine/postprocess.ts';
import { MARINE_CLASS_INDICES } from '../src/engine/marine.ts';

/** What topIndices must agree with: a stable full sort, highest first. */
function bySort(values: ArrayLike<number>, candidates: readonly number[] | null, k: number): number[] {
  const all = candidates ? [...candidates] : Array.from({ length: values.length }, (_, i) => i);
  return all.sort((a, b) => values[b] - values[a]).slice(0, k);
}

/** Seeded so a failure can be replayed; few distinct values so ties are common. */
function scores(seed: number, length: number, distinct: number): Float64Array {
  let x = seed;
  return Float64Array.from({ length }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x % distinct) / distinct;
  });
}

test('topIndices picks the same classes in the same order as a stable sort, ties included', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const values = scores(seed, 1000, seed % 3 === 0 ? 7 : 100_000);
    for (const k of [1, 2, 5, 10, 61, 62, 63, 200, 1000]) {
      assert.deepEqual(topIndices(values, null, k), bySort(values, null, k), `seed ${seed}, k ${k}`);
      assert.deepEqual(
        topIndices(values, MARINE_CLASS_INDICES, k),
        bySort(values, MARINE_CLASS_INDICES, k),
        `marine, seed ${seed}, k ${k}`,
      );
    }
  }
});

test('rankPredictions answers the top k with labels, and unknown below min_score', () => {
  const probabilities = new Float64Array(1000).fill(0.0005);
  probabilities[2] = 0.3; // great white shark
  probabilities[417] = 0.2; // balloon
  probabilities[3] = 0.2; // tiger shark, tied with the balloon: the lower index comes first
  const ranked = rankPredictions(probabilities, { topK: 3, minScore: 0, marineOnly: false });
  assert.deepEqual(
    ranked.predictions.map((p) => p.index),
    [2, 3, 417],
  );
  assert.equal(ranked.answer, 'great white shark');
  assert.equal(rankPredictions(probabilities, { topK: 3, minScore: 0.5, marineOnly: false }).answer, 'unknown');
  const marine = rankPredictions(probabilities, { topK: 2, minScore: 0, marineOnly: true });
  assert.deepEqual(
    marine.predictions.map((p) => p.index),
    [2, 3],
  );
  assert.ok(marine.predictions.every((p) => p.marine !== null));
});
