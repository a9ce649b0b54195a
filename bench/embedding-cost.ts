/**
 * Issue 15: what the embedding output costs classify(). The same images through two engines,
 * one with the pooled features as a second output and one with the model file as it is,
 * alternating rounds so a noisy machine hurts both alike. Prints images per second of each.
 *
 *   node --import tsx bench/embedding-cost.ts     # MODEL_PATH overrides the shared MobileNetV2
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createClassifier, type Classifier } from '../src/engine/classifier.ts';

const SHARED = path.resolve(import.meta.dirname, '..', '..', 'shared');
const MODEL = process.env.MODEL_PATH ?? path.join(SHARED, 'models', 'mobilenetv2-12-int8.onnx');
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const folder = path.join(SHARED, 'images', 'imagenet-marine');
const images = readdirSync(folder).map((f) => readFileSync(path.join(folder, f)));

async function throughput(classifier: Classifier, copies: number): Promise<number> {
  const inputs = Array.from({ length: copies }, () => images).flat();
  const started = performance.now();
  for await (const outcome of classifier.classifyMany(inputs)) if (outcome.error) throw outcome.error;
  return inputs.length / ((performance.now() - started) / 1000);
}

const withEmbeddings = await createClassifier({ modelPath: MODEL });
const without = await createClassifier({ modelPath: MODEL, embeddings: false });
const copies = Number(process.env.COPIES ?? 5);
await throughput(withEmbeddings, 1);
await throughput(without, 1);
const rates: { with: number[]; without: number[] } = { with: [], without: [] };
for (let round = 0; round < ROUNDS; round++) {
  rates.without.push(await throughput(without, copies));
  rates.with.push(await throughput(withEmbeddings, copies));
}
await Promise.all([withEmbeddings.close(), without.close()]);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`model ${path.basename(MODEL)}, ${images.length * copies} images a round, ${ROUNDS} rounds each`);
console.log(
  `without the embedding output: ${rates.without.map((r) => r.toFixed(1)).join(', ')} images/s (median ${median(rates.without).toFixed(1)})`,
);
console.log(
  `with the embedding output:    ${rates.with.map((r) => r.toFixed(1)).join(', ')} images/s (median ${median(rates.with).toFixed(1)})`,
);
console.log(`cost: ${((1 - median(rates.with) / median(rates.without)) * 100).toFixed(1)} % of throughput`);
