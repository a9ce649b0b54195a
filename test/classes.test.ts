import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateThreshold, decide, leaveOneOutSimilarities, UNKNOWN_LABEL } from '../src/classes/calibrate.ts';
import { evaluateLeaveOneOut, evaluateSplits, seededRandom, splitOf } from '../src/classes/evaluate.ts';
import { rankByNeighbours } from '../src/classes/knn.ts';
import { fitLinear, rankByLinear } from '../src/classes/linear.ts';
import { matcherOf } from '../src/classes/match.ts';
import { prototypesOf, rankByPrototype } from '../src/classes/prototypes.ts';
import { dot, type Example, normalised } from '../src/classes/vectors.ts';

const unit = (...values: number[]) => normalised(Float32Array.from(values));
/** A unit vector at `degrees` in the plane. */
const at = (degrees: number) => unit(Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180));

/** Three labels around 0, 120 and 240 degrees, `n` examples each spread over +-spread degrees. */
function threeLabels(n: number, spread = 20): Example[] {
  const random = seededRandom(7);
  return ['a', 'b', 'c'].flatMap((label, l) =>
    Array.from({ length: n }, () => ({ label, vector: at(l * 120 + (random() * 2 - 1) * spread) })),
  );
}

describe('prototypes', () => {
  test('a prototype is the normalised mean of its label, and photos rank by cosine similarity', () => {
    const examples = [
      { label: 'x', vector: unit(1, 0) },
      { label: 'x', vector: unit(0, 1) },
      { label: 'y', vector: unit(-1, 0) },
    ];
    const [x, y] = prototypesOf(examples);
    assert.equal(x.label, 'x');
    assert.equal(x.examples, 2);
    assert.ok(Math.abs(x.vector[0] - Math.SQRT1_2) < 1e-6 && Math.abs(x.vector[1] - Math.SQRT1_2) < 1e-6);
    assert.deepEqual(Array.from(y.vector), [-1, 0]);
    const ranked = rankByPrototype([x, y], unit(1, 0.1));
    assert.deepEqual(
      ranked.map((r) => r.label),
      ['x', 'y'],
    );
    assert.ok(Math.abs(ranked[0].similarity - dot(x.vector, unit(1, 0.1))) < 1e-6);
  });

  test('with flips, the mirror vectors join their label', () => {
    const examples = [{ label: 'x', vector: unit(1, 0), flipped: unit(0, 1) }];
    assert.deepEqual(Array.from(prototypesOf(examples, false)[0].vector), [1, 0]);
    const both = prototypesOf(examples, true)[0].vector;
    assert.ok(Math.abs(both[0] - both[1]) < 1e-6);
  });
});

describe('calibration and unknown', () => {
  test('leave-one-out similarities leave each example out of its own prototype', () => {
    const examples = [
      { label: 'x', vector: at(0) },
      { label: 'x', vector: at(60) },
      { label: 'y', vector: at(180) }, // alone: nothing to compare with
    ];
    const sims = leaveOneOutSimilarities(examples);
    assert.equal(sims.length, 2);
    for (const s of sims) assert.ok(Math.abs(s - 0.5) < 1e-6, `cos 60 = 0.5, got ${s}`);
  });

  test('the threshold keeps the asked share of the examples and rejects below it', () => {
    // Label x: one example far off (the lowest LOO similarity), nine close together.
    const examples = [
      ...Array.from({ length: 9 }, (_, i) => ({ label: 'x', vector: at(i) })),
      { label: 'x', vector: at(70) },
    ];
    const all = calibrateThreshold(examples, 1);
    assert.equal(all.threshold, all.similarities[0]);
    assert.equal(all.keep, 1);
    const most = calibrateThreshold(examples, 0.9);
    assert.equal(most.similarities.length, 10);
    assert.ok(most.threshold > all.threshold, 'the outlier falls below the 90 % threshold');
    assert.equal(most.keep, 0.9);
    assert.throws(() => calibrateThreshold(examples, 0), RangeError);
    assert.equal(calibrateThreshold([{ label: 'x', vector: at(0) }]).threshold, -1);

    const ranked = rankByPrototype(prototypesOf(examples), at(4));
    assert.equal(decide(ranked, most.threshold).label, 'x');
    const far = decide(rankByPrototype(prototypesOf(examples), at(150)), most.threshold);
    assert.equal(far.label, UNKNOWN_LABEL);
    assert.equal(far.unknown, true);
    assert.equal(far.top[0].label, 'x', 'the top labels are still given with an unknown answer');
    assert.equal(decide([], 0).label, UNKNOWN_LABEL);
  });
});

describe('matching methods', () => {
  const examples = threeLabels(8);
  const query = at(118);

  test('every method puts the nearest label first and reports the prototype similarity', () => {
    for (const kind of ['prototype', 'linear', 'knn'] as const) {
      const ranked = matcherOf(examples, { kind, flips: false, k: 3 })(query);
      assert.equal(ranked[0].label, 'b', kind);
      assert.equal(ranked.length, 3, kind);
      const b = prototypesOf(examples).find((p) => p.label === 'b');
      assert.ok(b && Math.abs(ranked[0].similarity - dot(b.vector, query)) < 1e-6, kind);
    }
  });

  test('kNN sums the votes of the k nearest; the linear model fits separable labels exactly', () => {
    const votes = rankByNeighbours(examples, query, 3);
    assert.equal(votes[0].label, 'b');
    assert.ok(Math.abs(votes[0].score - votes.reduce((s, v) => s + v.score, 0)) < 1e-9, 'all three votes are b');
    const model = fitLinear(examples, { withFlips: false });
    for (const e of examples) assert.equal(rankByLinear(model, e.vector)[0].label, e.label);
    const probabilities = rankByLinear(model, query).map((r) => r.score);
    assert.ok(Math.abs(probabilities.reduce((s, p) => s + p, 0) - 1) < 1e-9);
  });
});

describe('evaluation', () => {
  test('K-shot splits: counts add up, separable labels score 100 %, seeds repeat', () => {
    const examples = threeLabels(10);
    const e = evaluateSplits(examples, { shots: 4, splits: 3, seed: 5, method: { kind: 'prototype', flips: false } });
    assert.equal(e.tests, 3 * 3 * 6);
    assert.equal(e.top1, 1);
    assert.equal(e.top3, 1);
    assert.deepEqual(e.top1PerSplit, [1, 1, 1]);
    assert.deepEqual(e.confusion.labels, ['a', 'b', 'c']);
    assert.deepEqual(e.confusion.counts, [
      [18, 0, 0],
      [0, 18, 0],
      [0, 0, 18],
    ]);
    assert.ok(e.labels.every((l) => l.precision === 1 && l.recall === 1 && l.examples === 4 && l.tests === 18));
    assert.deepEqual(
      e.needsMorePhotos.map((n) => n.label),
      ['a', 'b', 'c'],
      'four examples are too few',
    );
    const again = evaluateSplits(examples, {
      shots: 4,
      splits: 3,
      seed: 5,
      method: { kind: 'prototype', flips: false },
    });
    assert.deepEqual(again, e);
    assert.throws(() => evaluateSplits(examples, { shots: 0 }), RangeError);
  });

  test('two overlapping labels show up in the confusion matrix, precision, recall and the needs-more list', () => {
    const random = seededRandom(3);
    const examples: Example[] = [
      // a and b overlap completely (the same spread of directions), c stands apart.
      ...['a', 'b'].flatMap((label) => Array.from({ length: 12 }, () => ({ label, vector: at(random() * 40) }))),
      ...Array.from({ length: 12 }, () => ({ label: 'c', vector: at(180 + random() * 40) })),
    ];
    const e = evaluateLeaveOneOut(examples, { kind: 'prototype', flips: false });
    assert.equal(e.tests, 36);
    const [a, b, c] = e.confusion.counts;
    assert.equal(a[2] + b[2] + c[0] + c[1], 0, 'c is never confused with a or b');
    assert.equal(c[2], 12);
    assert.ok(a[1] + b[0] > 6, 'a and b are mixed up');
    const sum = e.confusion.counts.flat().reduce((s, v) => s + v, 0);
    assert.equal(sum, 36);
    const figures = Object.fromEntries(e.labels.map((l) => [l.label, l]));
    assert.equal(figures.c.recall, 1);
    assert.equal(figures.c.precision, 1);
    assert.equal(figures.a.recall, a[0] / 12);
    assert.equal(figures.a.precision, a[0] / (a[0] + b[0]));
    const weak = e.needsMorePhotos.map((n) => n.label);
    assert.ok(!weak.includes('c'));
    for (const n of e.needsMorePhotos) assert.match(n.why, /mistaken for (a|b)/);
  });

  test('a split keeps shots per label and tests the rest, no photo in both', () => {
    const examples = threeLabels(5);
    const { train, tests } = splitOf(examples, 2, seededRandom(1));
    assert.equal(train.length, 6);
    assert.equal(tests.length, 9);
    assert.ok(train.every((t) => !tests.includes(t)));
  });
});
