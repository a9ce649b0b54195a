/** Made-up embeddings for the class-set store tests: deterministic unit vectors, photo hashes and models. */
import { createHash } from 'node:crypto';
import type { ExampleInput, ModelFingerprint } from '../../src/classes/index.ts';

export const MODEL_A: ModelFingerprint = { id: 'mobilenetv2-12-int8', sha256: sha('model-a') };
export const MODEL_B: ModelFingerprint = { id: 'resnet50-v1-12', sha256: sha('model-b') };

export function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A unit vector from a seed (mulberry32), so two runs and two processes make the same one. */
export function unitVector(dim: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const vector = new Float32Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    vector[i] = random();
    norm += vector[i] * vector[i];
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dim; i++) vector[i] *= scale;
  return vector;
}

/** One example: the photo's hash comes from `photo`, so the same photo name is the same photo. */
export function example(label: string, photo: string, dim: number, seed = hashSeed(photo)): ExampleInput {
  return { label, vector: unitVector(dim, seed), sha256: sha(photo), source: `photos/${label}/${photo}.jpg` };
}

export function examples(label: string, count: number, dim: number, tag = ''): ExampleInput[] {
  return Array.from({ length: count }, (_, i) => example(label, `${tag}${label}-${i}`, dim));
}

function hashSeed(text: string): number {
  return Number.parseInt(sha(text).slice(0, 8), 16);
}
