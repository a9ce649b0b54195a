/**
 * A scripted stand-in for the engine, for testing the queue's and the worker's logic fast and
 * deterministically (the real model runs in the worker-process tests). An image's bytes are its
 * script: "ok:<answer>", "bad" (corrupt input), "flaky:<n>:<answer>" (n transient failures
 * first), "slow:<ms>:<answer>".
 */
import { createHash } from 'node:crypto';
import type { Classifier, ClassifierSettings, ModelDescription } from '../../src/engine/classifier.ts';
import type { ClassificationResult, ClassifyOptions, ImageInput } from '../../src/engine/types.ts';
import { ClassifierError } from '../../src/errors.ts';
import type { ImageSpec } from '../../src/queue/types.ts';

export function scripted(script: string): ImageSpec {
  return { kind: 'base64', data: Buffer.from(script).toString('base64'), label: script };
}

export interface FakeClassifier extends Classifier {
  /** classify() calls per script, successful or not. */
  calls: Map<string, number>;
}

const MODEL: ModelDescription = {
  id: 'fake-model',
  path: '/dev/null',
  catalogue: null,
  signature: { inputName: 'input', outputName: 'output', layout: 'NCHW', size: 224, fixedBatch: null, classes: 1000 },
  embedding: { unavailable: 'a fake model' },
};
const SETTINGS: ClassifierSettings = {
  intraOpThreads: 1,
  parallelSessions: 1,
  sessionThreads: 1,
  soloSession: false,
  decodeThreads: 1,
  maxBatch: 4,
  maxWaitMs: 1,
  maxPixels: 1e8,
  decodePixelBudget: 2e8,
  resize: 'exact',
  jpegDecoder: 'sharp',
  maxImageBytes: 1e7,
};

function resultFor(answer: string, bytes: Buffer, options: ClassifyOptions): ClassificationResult {
  const prediction = { index: 1, synset: 'n00000001', label: answer, probability: 0.9, marine: null };
  return {
    top1: prediction,
    answer,
    unknown: false,
    predictions: [prediction].slice(0, options.topK ?? 5),
    image: { width: 1, height: 1, format: 'jpeg', taken_at: null, latitude: null, longitude: null },
    model: MODEL.id,
    timings: { fetch_ms: 0, decode_ms: 1, queue_ms: 0, inference_ms: 1, total_ms: 2 },
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

export function createFakeClassifier(): FakeClassifier {
  const calls = new Map<string, number>();
  async function classify(input: ImageInput, options: ClassifyOptions = {}): Promise<ClassificationResult> {
    if (!Buffer.isBuffer(input)) throw new ClassifierError('invalid_request', 'the fake classifier takes bytes only');
    const script = input.toString();
    const n = (calls.get(script) ?? 0) + 1;
    calls.set(script, n);
    const [kind, arg, answer] = script.split(':');
    if (kind === 'ok') return resultFor(arg, input, options);
    if (kind === 'bad') throw new ClassifierError('not_an_image', 'The data is not an image in a supported format.');
    if (kind === 'flaky') {
      if (n <= Number(arg))
        throw new ClassifierError('fetch_timeout', 'Fetching the image URL took longer than 10 ms.');
      return resultFor(answer, input, options);
    }
    if (kind === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, Number(arg)));
      return resultFor(answer, input, options);
    }
    throw new Error(`unknown script ${script}`);
  }
  return {
    model: MODEL,
    settings: SETTINGS,
    calls,
    classify,
    async embed() {
      throw new Error('not used by the worker');
    },
    async classifyFrame() {
      throw new Error('not used by the worker');
    },
    // biome-ignore lint/correctness/useYield: an async generator that only throws: the worker never calls it
    async *classifyMany() {
      throw new Error('not used by the worker');
    },
    inFlight: () => 0,
    decoding: () => ({ limit: 2e8, pixels: 0, peakPixels: 0, waiting: 0 }),
    inferenceCpuSeconds: () => null,
    async close() {},
  };
}
