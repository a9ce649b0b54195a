/**
 * Issue 15: what the embedding output costs. First the model alone: one ONNX Runtime session of
 * the file as it is and one with the added output, a batch of 8 on one thread, alternating runs.
 * Then classify() end to end: the same images through two engines (with and without), in
 * alternating rounds so a noisy machine hurts both alike.
 *
 *   node --import tsx bench/embedding-cost.ts     # MODEL_PATH overrides the shared MobileNetV2
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { createClassifier, type Classifier } from '../src/engine/classifier.ts';
import { withEmbeddingOutput } from '../src/engine/embedding-graph.ts';

const SHARED = path.resolve(import.meta.dirname, '..', '..', 'shared');
const MODEL = process.env.MODEL_PATH ?? path.join(SHARED, 'models', 'mobilenetv2-12-int8.onnx');
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const folder = path.join(SHARED, 'images', 'imagenet-marine');
const images = readdirSync(folder).map((f) => readFileSync(path.join(folder, f)));

/** Images per second, and the inference threads' CPU milliseconds per image (null where unknown). */
async function throughput(classifier: Classifier, copies: number): Promise<[number, number | null]> {
  const inputs = Array.from({ length: copies }, () => images).flat();
  const started = performance.now();
  const cpuStarted = classifier.inferenceCpuSeconds();
  for await (const outcome of classifier.classifyMany(inputs)) if (outcome.error) throw outcome.error;
  const cpuEnded = classifier.inferenceCpuSeconds();
  const cpu = cpuStarted === null || cpuEnded === null ? null : ((cpuEnded - cpuStarted) * 1000) / inputs.length;
  return [inputs.length / ((performance.now() - started) / 1000), cpu];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function modelAlone(): Promise<void> {
  const bytes = readFileSync(MODEL);
  const edited = withEmbeddingOutput(bytes);
  if (!edited.ok) throw new Error(edited.why);
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 1 };
  const sessions = [
    await ort.InferenceSession.create(bytes, options),
    await ort.InferenceSession.create(edited.model, options),
  ];
  const batch = 8;
  const input = new Float32Array(batch * 3 * 224 * 224).map((_, i) => Math.sin(i * 0.37));
  const feeds = { [sessions[0].inputNames[0]]: new ort.Tensor('float32', input, [batch, 3, 224, 224]) };
  // CPU time as well as wall time: on a machine shared with other work, wall time mostly measures the others.
  const wall: number[][] = [[], []];
  const cpu: number[][] = [[], []];
  for (let run = 0; run < Number(process.env.RUNS ?? 20); run++) {
    for (const [i, session] of sessions.entries()) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      await session.run(feeds);
      const used = process.cpuUsage(cpuStarted);
      cpu[i].push((used.user + used.system) / 1000);
      wall[i].push(performance.now() - started);
    }
  }
  for (const [what, times] of [
    ['wall', wall],
    ['CPU', cpu],
  ] as const) {
    const [plain, withOutput] = times.map(median);
    const change = ((withOutput / plain - 1) * 100).toFixed(1);
    console.log(
      `model alone, batch of ${batch}, 1 thread, ${what} time: ${plain.toFixed(1)} ms as it is, ${withOutput.toFixed(1)} ms with the embedding output (median of ${times[0].length}; ${change} %)`,
    );
  }
  await Promise.all(sessions.map((s) => s.release()));
}

await modelAlone();
const withEmbeddings = await createClassifier({ modelPath: MODEL });
const without = await createClassifier({ modelPath: MODEL, embeddings: false });
const copies = Number(process.env.COPIES ?? 5);
await throughput(withEmbeddings, 1);
await throughput(without, 1);
const rates: { with: number[]; without: number[] } = { with: [], without: [] };
const cpu: { with: number[]; without: number[] } = { with: [], without: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [key, classifier] of [
    ['without', without],
    ['with', withEmbeddings],
  ] as const) {
    const [rate, ms] = await throughput(classifier, copies);
    rates[key].push(rate);
    if (ms !== null) cpu[key].push(ms);
  }
}
await Promise.all([withEmbeddings.close(), without.close()]);
console.log(`model ${path.basename(MODEL)}, ${images.length * copies} images a round, ${ROUNDS} rounds each`);
console.log(
  `without the embedding output: ${rates.without.map((r) => r.toFixed(1)).join(', ')} images/s (median ${median(rates.without).toFixed(1)})`,
);
console.log(
  `with the embedding output:    ${rates.with.map((r) => r.toFixed(1)).join(', ')} images/s (median ${median(rates.with).toFixed(1)})`,
);
console.log(`cost: ${((1 - median(rates.with) / median(rates.without)) * 100).toFixed(1)} % of throughput`);
if (cpu.with.length > 0)
  console.log(
    `inference CPU per image: ${median(cpu.without).toFixed(2)} ms without, ${median(cpu.with).toFixed(2)} ms with (${((median(cpu.with) / median(cpu.without) - 1) * 100).toFixed(1)} %)`,
  );
