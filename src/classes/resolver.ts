/**
 * A set named in a request or a job, made ready where the model runs: the store's matrix (cached
 * by the store, rechecked by its stamp) fitted once per stamp, so a set is not refitted per image;
 * and the set's evaluation, also computed once per stamp.
 */
import type { CustomClasses } from '../engine/types.ts';
import { type FittedClassSet, examplesOf, fitClassSet, STORED_SET_METHOD } from './custom-classes.ts';
import { type Evaluation, evaluateLeaveOneOut, evaluateSplits } from './evaluate.ts';
import { emptySet } from './checks.ts';
import type { ClassSetStore, ModelFingerprint } from './types.ts';
import { byLabel } from './vectors.ts';

/** Photos per label fitted on in each split of an evaluation, at most (the rest are tested). */
export const EVALUATION_SHOTS = 10;
export const EVALUATION_SPLITS = 5;

export interface SetEvaluation {
  evaluation: Evaluation;
  /** The threshold the set's photos calibrate (what applies when neither set nor request overrides it). */
  calibratedThreshold: number;
}

export class ClassSetResolver {
  readonly store: ClassSetStore;
  readonly #model: () => Promise<ModelFingerprint | null>;
  readonly #fits = new Map<string, { stamp: string; fitted: FittedClassSet }>();
  readonly #evaluations = new Map<string, { stamp: string; value: SetEvaluation }>();

  /** `model`: the model classifications run with here (null: none known; the set's own is not checked). */
  constructor(store: ClassSetStore, model: () => Promise<ModelFingerprint | null>) {
    this.store = store;
    this.#model = model;
  }

  /** The set ready for the engine: class_set_not_found, or class_set_model_mismatch for another model's set. */
  async classesFor(name: string, threshold?: number | null): Promise<CustomClasses> {
    return (await this.#fitted(name)).classes({ threshold: threshold ?? null });
  }

  /**
   * How well the set tells its labels apart: repeated K-shot splits of its own photos (K = 10, or
   * fewer so that every label keeps photos to test), leave-one-out when a label has one photo.
   */
  async evaluate(name: string): Promise<SetEvaluation> {
    const matrix = await this.store.loadMatrix(name);
    if (matrix.rows === 0) throw emptySet(name);
    const cached = this.#evaluations.get(name);
    if (cached?.stamp === matrix.stamp) return cached.value;
    const examples = examplesOf(matrix);
    const smallest = Math.min(...[...byLabel(examples).values()].map((group) => group.length));
    const evaluation =
      smallest >= 2
        ? evaluateSplits(examples, {
            shots: Math.min(EVALUATION_SHOTS, smallest - 1),
            splits: EVALUATION_SPLITS,
            method: STORED_SET_METHOD,
          })
        : evaluateLeaveOneOut(examples, STORED_SET_METHOD);
    const value = { evaluation, calibratedThreshold: (await this.#fitted(name, false)).calibratedThreshold() };
    this.#evaluations.set(name, { stamp: matrix.stamp, value });
    return value;
  }

  async #fitted(name: string, checkModel = true): Promise<FittedClassSet> {
    const model = checkModel ? await this.#model() : null;
    const matrix = await this.store.loadMatrix(name, model ? { model } : {});
    if (matrix.rows === 0) throw emptySet(name);
    const cached = this.#fits.get(name);
    if (cached?.stamp === matrix.stamp) return cached.fitted;
    const fitted = fitClassSet(matrix);
    this.#fits.set(name, { stamp: matrix.stamp, fitted });
    return fitted;
  }
}
