/** One labelled example: what a class set holds, as plain data (no database). */
export interface Example {
  label: string;
  /** L2-normalised embedding of the photo. */
  vector: Float32Array;
  /** The mirror image's embedding, when it was made: an extra example of the same photo. */
  flipped?: Float32Array | null;
}

/** A label and how well a photo matches it; `similarity` is the cosine similarity to the label's prototype. */
export interface LabelScore {
  label: string;
  /** What the ranking used (similarity, probability or votes, by method); higher is better. */
  score: number;
  similarity: number;
}

/**
 * Four sums side by side: V8 keeps more multiplications in flight than with one chain, which made
 * matching a photo against 1,000 labels about twice as fast (bench/class-sets.ts).
 */
export function dot(a: Float32Array, b: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = a.length - (a.length % 4);
  let i = 0;
  for (; i < end; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < a.length; i++) s0 += a[i] * b[i];
  return s0 + s1 + s2 + s3;
}

/** The vector scaled to length 1 (a zero vector stays zero). */
export function normalised(vector: Float32Array): Float32Array {
  const length = Math.sqrt(dot(vector, vector));
  return length > 0 ? vector.map((v) => v / length) : vector.slice();
}

/** The normalised mean of the vectors: the direction they share. */
export function meanDirection(vectors: readonly Float32Array[]): Float32Array {
  if (vectors.length === 0) throw new Error('the mean of no vectors');
  const sum = new Float32Array(vectors[0].length);
  for (const vector of vectors) for (let i = 0; i < sum.length; i++) sum[i] += vector[i];
  return normalised(sum);
}

/** The example's vectors: itself, and its mirror image when `withFlips` and it has one. */
export function vectorsOf(example: Example, withFlips: boolean): Float32Array[] {
  return withFlips && example.flipped ? [example.vector, example.flipped] : [example.vector];
}

/** The labels in first-seen order. */
export function labelsOf(examples: readonly Example[]): string[] {
  return [...new Set(examples.map((e) => e.label))];
}

/** Examples grouped by label, in first-seen order. */
export function byLabel<T extends { label: string }>(examples: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const example of examples) {
    const group = groups.get(example.label);
    if (group) group.push(example);
    else groups.set(example.label, [example]);
  }
  return groups;
}
