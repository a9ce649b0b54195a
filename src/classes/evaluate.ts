import { UNKNOWN_LABEL } from './calibrate.ts';
import { DEFAULT_METHOD, type MatchMethod, matcherOf } from './match.ts';
import { byLabel, type Example, labelsOf } from './vectors.ts';

export interface LabelFigures {
  label: string;
  /** Examples of the label the set has. */
  examples: number;
  /** Test photos of the label (summed over splits). */
  tests: number;
  /** Of the photos answered with this label, the share that were it; null when none was. */
  precision: number | null;
  /** Of the label's photos, the share answered with it. */
  recall: number;
  /** The label its photos were most often mistaken for, when they were. */
  confusedWith: string | null;
}

export interface Evaluation {
  method: MatchMethod;
  /** How the figures were made: leave-one-out, or `splits` random splits with `shots` examples per label. */
  protocol: { kind: 'leave-one-out' } | { kind: 'splits'; shots: number; splits: number; seed: number };
  tests: number;
  top1: number;
  top3: number;
  /** Top-1 of each split (one value for leave-one-out), to see how much it varies. */
  top1PerSplit: number[];
  labels: LabelFigures[];
  /** counts[true][answered], in the order of `labels`; summed over splits. */
  confusion: { labels: string[]; counts: number[][] };
  /** Labels whose recall is low or that have few examples, worst first, with why. */
  needsMorePhotos: { label: string; why: string }[];
}

/** Below this recall, or with fewer examples than this, a label is listed as needing more photos. */
export const WEAK_RECALL = 0.7;
export const FEW_EXAMPLES = 5;

interface Tally {
  labels: string[];
  index: Map<string, number>;
  counts: number[][];
  top3: number;
  tests: number;
}

function tallyOf(labels: string[]): Tally {
  return {
    labels,
    index: new Map(labels.map((label, i) => [label, i])),
    counts: labels.map(() => labels.map(() => 0)),
    top3: 0,
    tests: 0,
  };
}

/** Answers each test photo with a matcher fitted on `train`; adds to the tally; returns the top-1 share. */
function runSplit(train: readonly Example[], tests: readonly Example[], method: MatchMethod, tally: Tally): number {
  const match = matcherOf(train, method);
  let right = 0;
  for (const test of tests) {
    const ranked = match(test.vector);
    const answered = ranked[0]?.label ?? UNKNOWN_LABEL;
    const truth = tally.index.get(test.label);
    const given = tally.index.get(answered);
    if (truth !== undefined && given !== undefined) tally.counts[truth][given]++;
    if (answered === test.label) right++;
    if (ranked.slice(0, 3).some((r) => r.label === test.label)) tally.top3++;
    tally.tests++;
  }
  return tests.length ? right / tests.length : 0;
}

function figuresOf(tally: Tally, examples: Map<string, number>, top1PerSplit: number[]) {
  const { labels, counts } = tally;
  const figures: LabelFigures[] = labels.map((label, t) => {
    const row = counts[t];
    const tests = row.reduce((s, v) => s + v, 0);
    const answeredAs = counts.reduce((s, r) => s + r[t], 0);
    let confusedWith: string | null = null;
    let worst = 0;
    row.forEach((n, a) => {
      if (a !== t && n > worst) {
        worst = n;
        confusedWith = labels[a];
      }
    });
    return {
      label,
      examples: examples.get(label) ?? 0,
      tests,
      precision: answeredAs ? row[t] / answeredAs : null,
      recall: tests ? row[t] / tests : 0,
      confusedWith,
    };
  });
  const right = labels.reduce((s, _, i) => s + counts[i][i], 0);
  const needsMorePhotos = figures
    .filter((f) => f.recall < WEAK_RECALL || f.examples < FEW_EXAMPLES)
    .sort((a, b) => a.recall - b.recall)
    .map((f) => ({
      label: f.label,
      why:
        f.examples < FEW_EXAMPLES
          ? `only ${f.examples} example${f.examples === 1 ? '' : 's'}`
          : `recall ${Math.round(f.recall * 100)} %${f.confusedWith ? `, mostly mistaken for ${f.confusedWith}` : ''}`,
    }));
  return {
    tests: tally.tests,
    top1: tally.tests ? right / tally.tests : 0,
    top3: tally.tests ? tally.top3 / tally.tests : 0,
    top1PerSplit,
    labels: figures,
    confusion: { labels, counts },
    needsMorePhotos,
  };
}

/**
 * Each example answered by a matcher fitted on all the others (labels with one example cannot be
 * tested). That is one fit per example: cheap for prototypes, but with the linear method N fits
 * of a second or more each for sets of hundreds; repeated K-shot splits cost `splits` fits.
 */
export function evaluateLeaveOneOut(examples: readonly Example[], method: MatchMethod = DEFAULT_METHOD): Evaluation {
  const labels = labelsOf(examples);
  const tally = tallyOf(labels);
  const sizes = new Map([...byLabel(examples)].map(([label, group]) => [label, group.length]));
  let right = 0;
  let tested = 0;
  examples.forEach((example, i) => {
    if ((sizes.get(example.label) ?? 0) < 2) return;
    const others = examples.filter((_, j) => j !== i);
    right += runSplit(others, [example], method, tally);
    tested++;
  });
  return { method, protocol: { kind: 'leave-one-out' }, ...figuresOf(tally, sizes, [tested ? right / tested : 0]) };
}

/** A seeded random number generator (mulberry32): the same seed gives the same splits. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** `shots` examples of each label to fit on, the rest to test; labels with no photo left to test keep none back. */
export function splitOf(
  examples: readonly Example[],
  shots: number,
  random: () => number,
): { train: Example[]; tests: Example[] } {
  const train: Example[] = [];
  const tests: Example[] = [];
  for (const group of byLabel(examples).values()) {
    const order = shuffled(group, random);
    train.push(...order.slice(0, shots));
    tests.push(...order.slice(shots));
  }
  return { train, tests };
}

/** Repeated random K-shot splits: fit on `shots` photos per label, test on the rest, `splits` times. */
export function evaluateSplits(
  examples: readonly Example[],
  {
    shots,
    splits = 5,
    seed = 1,
    method = DEFAULT_METHOD,
  }: { shots: number; splits?: number; seed?: number; method?: MatchMethod },
): Evaluation {
  if (!(Number.isInteger(shots) && shots >= 1))
    throw new RangeError(`shots must be a whole number from 1, not ${shots}`);
  const labels = labelsOf(examples);
  const tally = tallyOf(labels);
  const random = seededRandom(seed);
  const top1PerSplit: number[] = [];
  for (let s = 0; s < splits; s++) {
    const { train, tests } = splitOf(examples, shots, random);
    top1PerSplit.push(runSplit(train, tests, method, tally));
  }
  const shotsPerLabel = new Map([...byLabel(examples)].map(([label, group]) => [label, Math.min(shots, group.length)]));
  return {
    method,
    protocol: { kind: 'splits', shots, splits, seed },
    ...figuresOf(tally, shotsPerLabel, top1PerSplit),
  };
}
