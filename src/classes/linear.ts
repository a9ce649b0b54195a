import { prototypesOf } from './prototypes.ts';
import { dot, type Example, type LabelScore, vectorsOf } from './vectors.ts';

/** Softmax regression on the embeddings: one weight vector and bias per label. */
export interface LinearModel {
  labels: string[];
  weights: Float32Array[];
  bias: Float64Array;
  /** Logits are scale x (w . x) + b: unit vectors need a scale for a confident softmax. */
  scale: number;
}

export interface LinearOptions {
  steps: number;
  learningRate: number;
  /** Weight decay: pulls the weights towards zero, against fitting a handful of photos too closely. */
  decay: number;
  scale: number;
  withFlips: boolean;
}

// Chosen on the shared fish set (bench/fewshot.ts, docs/custom-classes.md): stable from 1 to 20 photos a label.
export const LINEAR_DEFAULTS: LinearOptions = { steps: 300, learningRate: 1, decay: 3e-3, scale: 12, withFlips: true };

/**
 * Fitted by full-batch gradient descent, starting from the prototypes (so it starts as the
 * nearest-prototype classifier and moves from there). Every gradient is a sum of example
 * vectors, so the weights stay `f x prototypes + A x examples`: the descent runs on the N x N
 * Gram matrix instead of the 1280-wide vectors, which makes a few hundred steps take milliseconds.
 */
export function fitLinear(examples: readonly Example[], options: Partial<LinearOptions> = {}): LinearModel {
  const { steps, learningRate, decay, scale, withFlips } = { ...LINEAR_DEFAULTS, ...options };
  const prototypes = prototypesOf(examples, withFlips);
  const labels = prototypes.map((p) => p.label);
  const labelIndex = new Map(labels.map((label, i) => [label, i]));
  const rows = examples.flatMap((e) => vectorsOf(e, withFlips).map((vector) => ({ vector, label: e.label })));
  const n = rows.length;
  const classes = labels.length;
  const target = rows.map((row) => labelIndex.get(row.label) as number);
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) gram[i * n + j] = gram[j * n + i] = dot(rows[i].vector, rows[j].vector);
  const fromPrototype = new Float64Array(classes * n); // prototype c . example i
  for (let c = 0; c < classes; c++)
    for (let i = 0; i < n; i++) fromPrototype[c * n + i] = dot(prototypes[c].vector, rows[i].vector);

  let f = 1; // weight of the prototypes in W
  const a = new Float64Array(classes * n); // weight of example i in W_c
  const bias = new Float64Array(classes);
  const logits = new Float64Array(classes);
  const residual = new Float64Array(classes * n); // (p - y) per label and example
  // A fixed step can overshoot and oscillate (measured: 300 steps of 20 photos a label ended at
  // 71 % instead of 87 % with a stronger decay), so the weights where the objective the descent
  // minimises (cross-entropy + decay/2 |W|^2) was lowest are kept.
  const best = { objective: Infinity, f, a: a.slice(), bias: bias.slice() };
  for (let step = 0; step <= steps; step++) {
    let loss = 0;
    // |W_c|^2 = f^2 + 2 f sum_i a_ci (p_c . x_i) + sum_i a_ci (sum_j a_cj G_ji), the prototypes being unit vectors.
    let squaredNorm = classes * f * f;
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        const ac = c * n;
        let fromExamples = 0;
        for (let j = 0; j < n; j++) fromExamples += a[ac + j] * gram[j * n + i];
        squaredNorm += a[ac + i] * (fromExamples + 2 * f * fromPrototype[ac + i]);
        logits[c] = scale * (f * fromPrototype[ac + i] + fromExamples) + bias[c];
        if (logits[c] > max) max = logits[c];
      }
      let total = 0;
      for (let c = 0; c < classes; c++) total += logits[c] = Math.exp(logits[c] - max);
      for (let c = 0; c < classes; c++) residual[c * n + i] = logits[c] / total - (target[i] === c ? 1 : 0);
      loss -= Math.log(Math.max(logits[target[i]] / total, Number.MIN_VALUE)) / n;
    }
    const objective = loss + (decay / 2) * squaredNorm;
    if (objective < best.objective) Object.assign(best, { objective, f, a: a.slice(), bias: bias.slice() });
    if (step === steps) break;
    // W <- W (1 - lr decay) - lr scale mean_i (p - y)_ci x_i
    const shrink = 1 - learningRate * decay;
    f *= shrink;
    for (let c = 0; c < classes; c++) {
      let biasGradient = 0;
      for (let i = 0; i < n; i++) {
        const r = residual[c * n + i];
        a[c * n + i] = a[c * n + i] * shrink - (learningRate * scale * r) / n;
        biasGradient += r / n;
      }
      bias[c] -= learningRate * biasGradient;
    }
  }
  const weights = prototypes.map((prototype, c) => {
    const w = prototype.vector.map((v) => v * best.f);
    for (let i = 0; i < n; i++) {
      const weight = best.a[c * n + i];
      if (weight === 0) continue;
      const x = rows[i].vector;
      for (let d = 0; d < w.length; d++) w[d] += weight * x[d];
    }
    return w;
  });
  return { labels, weights, bias: best.bias, scale };
}

/** Every label by the model's probability, best first; `similarity` is left for the caller (prototype cosine). */
export function linearProbabilities(model: LinearModel, query: Float32Array): Map<string, number> {
  const logits = model.weights.map((w, c) => model.scale * dot(w, query) + model.bias[c]);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((s, v) => s + v, 0);
  return new Map(model.labels.map((label, c) => [label, exps[c] / total]));
}

export function rankByLinear(model: LinearModel, query: Float32Array): LabelScore[] {
  return [...linearProbabilities(model, query)]
    .map(([label, score]) => ({ label, score, similarity: Number.NaN }))
    .sort((a, b) => b.score - a.score);
}
