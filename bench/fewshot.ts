/**
 * Issue 15, point 5: how well custom classes learn the shared reef-fish set
 * (../shared/fewshot/fish4knowledge, 10 species x 40 photos) with each matching method, for
 * K = 1, 5, 10, 20 photos per species, over 5 seeded random splits (the rest of each species'
 * photos are the tests). Embeddings (and their mirror images) are made once per run and kept in
 * memory.
 *
 *   node --import tsx bench/fewshot.ts            # MODEL_PATH overrides the shared MobileNetV2
 *   FEWSHOT_SHOTS=10 node --import tsx bench/fewshot.ts
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { evaluateSplits } from '../src/classes/evaluate.ts';
import type { MatchMethod } from '../src/classes/match.ts';
import type { Example } from '../src/classes/vectors.ts';
import { createClassifier } from '../src/engine/classifier.ts';

const SHARED = path.resolve(import.meta.dirname, '..', '..', 'shared');
const FISH = path.join(SHARED, 'fewshot', 'fish4knowledge');
const MODEL = process.env.MODEL_PATH ?? path.join(SHARED, 'models', 'mobilenetv2-12-int8.onnx');
const SHOTS = (process.env.FEWSHOT_SHOTS ?? '1,5,10,20').split(',').map(Number);
const SPLITS = 5;

export const METHODS: [string, MatchMethod][] = [
  ['prototype', { kind: 'prototype', flips: false }],
  ['prototype + flips', { kind: 'prototype', flips: true }],
  ['kNN (k=5)', { kind: 'knn', flips: false, k: 5 }],
  ['kNN (k=5) + flips', { kind: 'knn', flips: true, k: 5 }],
  ['linear', { kind: 'linear', flips: false }],
  ['linear + flips', { kind: 'linear', flips: true }],
];

/** Every photo of the set, embedded with its mirror image, in folder order. */
export async function embedFolder(folder: string, modelPath: string): Promise<Example[]> {
  const classifier = await createClassifier({ modelPath });
  try {
    const files = readdirSync(folder, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) =>
        readdirSync(path.join(folder, d.name))
          .sort()
          .map((file) => ({ label: d.name, file: path.join(folder, d.name, file) })),
      );
    return await Promise.all(
      files.map(async ({ label, file }) => {
        const { vector, flipped } = await classifier.embed(file, { flip: true });
        return { label, vector, flipped };
      }),
    );
  } finally {
    await classifier.close();
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)}`;

async function main(): Promise<void> {
  const started = performance.now();
  const examples = await embedFolder(FISH, MODEL);
  console.log(
    `${examples.length} photos embedded (with mirror images) in ${((performance.now() - started) / 1000).toFixed(1)} s; model ${path.basename(MODEL)}; ${SPLITS} splits, seed 1\n`,
  );
  console.log(`| method | ${SHOTS.map((k) => `K=${k} top-1 / top-3`).join(' | ')} | fit+test ms (K=${SHOTS.at(-1)}) |`);
  console.log(`|---|${SHOTS.map(() => '---').join('|')}|---|`);
  for (const [name, method] of METHODS) {
    const cells: string[] = [];
    let ms = 0;
    for (const shots of SHOTS) {
      const t = performance.now();
      const e = evaluateSplits(examples, { shots, splits: SPLITS, seed: 1, method });
      ms = (performance.now() - t) / SPLITS;
      cells.push(`${pct(e.top1)} / ${pct(e.top3)}`);
    }
    console.log(`| ${name} | ${cells.join(' | ')} | ${ms.toFixed(0)} |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
