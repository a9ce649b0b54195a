/**
 * A stored class set made ready for classification: the matcher fitted on its examples and its
 * `unknown` threshold, behind the engine's CustomClasses interface (the engine calls match() with
 * the pooled features of the same model run that gave the ImageNet answer).
 */
import type { CustomClasses } from '../engine/types.ts';
import { calibrateThreshold, decide } from './calibrate.ts';
import { type MatchMethod, matcherOf } from './match.ts';
import type { ClassMatrix } from './types.ts';
import type { Example } from './vectors.ts';

/**
 * Stored sets hold one vector per photo (no mirror images yet), so the linear model is fitted on
 * those alone: 82.7 % top-1 at 10 photos a label on the shared fish set, against 83.2 % with mirrors.
 */
export const STORED_SET_METHOD: MatchMethod = { kind: 'linear', flips: false };

/**
 * The linear fit runs on the N x N Gram matrix of the examples (linear.ts): memory N² x 8 bytes and
 * time about N² x labels x steps. Measured on the 2 shared cores (bench/class-sets.ts): 400 examples
 * of 10 labels 4.8 s, 1,000 of 10 labels 23 s, 1,000 of 100 labels 106 s; 100,000 examples would
 * need an 80 GB matrix. Above this cost (N² x labels) a set is matched by its prototypes instead,
 * which costs one dot product per label per photo whatever N is.
 */
export const LINEAR_MAX_COST = 2_000_000;

/** The method a set of `rows` examples under `labels` labels is matched with: linear where the fit is affordable. */
export function methodForSize(method: MatchMethod, rows: number, labels: number): MatchMethod {
  if (method.kind !== 'linear') return method;
  const vectors = method.flips ? rows * 2 : rows;
  return vectors * vectors * labels <= LINEAR_MAX_COST ? method : { kind: 'prototype', flips: method.flips };
}

export interface CustomClassesOptions {
  /** Overrides the set's own threshold and the calibrated one (a cosine similarity). */
  threshold?: number | null;
  method?: MatchMethod;
  /** Custom labels reported per photo. */
  topK?: number;
}

export function examplesOf(matrix: ClassMatrix): Example[] {
  const examples: Example[] = [];
  for (let row = 0; row < matrix.rows; row++) {
    examples.push({
      label: matrix.labels[matrix.labelOfRow[row]],
      vector: matrix.vectors.subarray(row * matrix.dim, (row + 1) * matrix.dim),
    });
  }
  return examples;
}

/** A set's matcher, fitted once; thresholds and top-k are chosen per use without refitting. */
export interface FittedClassSet {
  readonly name: string;
  /** The threshold the examples calibrate (leave-one-out), computed on first use. */
  calibratedThreshold(): number;
  classes(options?: Omit<CustomClassesOptions, 'method'>): CustomClasses;
}

export function fitClassSet(matrix: ClassMatrix, wanted: MatchMethod = STORED_SET_METHOD): FittedClassSet {
  const examples = examplesOf(matrix);
  const method = methodForSize(wanted, matrix.rows, matrix.labels.length);
  const matcher = matcherOf(examples, method);
  let calibrated: number | null = null;
  const calibratedThreshold = () => {
    calibrated ??= calibrateThreshold(examples, undefined, method.flips).threshold;
    return calibrated;
  };
  return {
    name: matrix.name,
    calibratedThreshold,
    classes(options = {}) {
      const threshold = options.threshold ?? matrix.threshold ?? calibratedThreshold();
      const topK = options.topK ?? 3;
      return {
        name: matrix.name,
        match(embedding) {
          const answer = decide(matcher(embedding), threshold, topK);
          return { set: matrix.name, ...answer, threshold };
        },
      };
    },
  };
}

export function customClassesOf(matrix: ClassMatrix, options: CustomClassesOptions = {}): CustomClasses {
  return fitClassSet(matrix, options.method).classes(options);
}
