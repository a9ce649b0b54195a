import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { evaluateSplits } from '../src/classes/evaluate.ts';
import type { Example } from '../src/classes/vectors.ts';
import { createClassifier, type Classifier } from '../src/engine/classifier.ts';
import { withEmbeddingOutput } from '../src/engine/embedding-graph.ts';
import { ClassifierError } from '../src/errors.ts';
import { SHARK_PHOTO, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const { onnx } = onnxProto;
const FISH = sharedPath('fewshot', 'fish4knowledge');
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);

let classifier: Classifier;
before(async () => {
  classifier = await createClassifier({ modelPath: TEST_MODEL, parallelSessions: 1, soloSession: false });
});
after(async () => {
  await classifier.close();
});

describe('embeddings from the same inference', () => {
  test('the shared MobileNetV2 gives its 1280 pooled features (472_quantized), L2-normalised', async () => {
    assert.deepEqual(classifier.model.embedding, { tensor: '472_quantized', length: 1280 });
    const { vector, flipped, sha256 } = await classifier.embed(SHARK_PHOTO);
    assert.equal(vector.length, 1280);
    assert.ok(Math.abs(Math.sqrt(dot(vector, vector)) - 1) < 1e-5);
    assert.equal(flipped, null);
    assert.match(sha256, /^[0-9a-f]{64}$/);
    // Pooled ReLU features: none negative, and not all zero.
    assert.ok(vector.every((v) => v >= 0) && vector.some((v) => v > 0));
  });

  test('with flip, the mirror image rides along: another unit vector, close to the first but not equal', async () => {
    const { vector, flipped } = await classifier.embed(SHARK_PHOTO, { flip: true });
    assert.ok(flipped);
    assert.ok(Math.abs(Math.sqrt(dot(flipped, flipped)) - 1) < 1e-5);
    const similarity = dot(vector, flipped);
    assert.ok(similarity > 0.8 && similarity < 0.9999, `similarity ${similarity}`);
    const again = await classifier.embed(SHARK_PHOTO);
    assert.deepEqual(again.vector, vector, 'the same photo embeds the same, with or without its mirror in the batch');
  });

  test('the logits are bit-identical to the unmodified graph, for every shared model', async () => {
    for (const file of [
      TEST_MODEL,
      sharedPath('models', 'bench', 'resnet50-untrained-int8-qdq.onnx'),
      sharedPath('models', 'bench', 'resnet50-untrained.onnx'),
    ]) {
      const bytes = readFileSync(file);
      const edited = withEmbeddingOutput(bytes);
      assert.ok(edited.ok, `${file}: ${edited.ok ? '' : edited.why}`);
      const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 1 };
      const plain = await ort.InferenceSession.create(bytes, options);
      const withEmbedding = await ort.InferenceSession.create(edited.model, options);
      const input = new Float32Array(2 * 3 * 224 * 224).map((_, i) => Math.sin(i * 0.37) * 2);
      const feeds = { [plain.inputNames[0]]: new ort.Tensor('float32', input, [2, 3, 224, 224]) };
      const a = (await plain.run(feeds))[plain.outputNames[0]].data as Float32Array;
      const outputs = await withEmbedding.run(feeds);
      assert.deepEqual(withEmbedding.outputNames, [plain.outputNames[0], edited.output]);
      assert.ok(
        Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
          Buffer.from((outputs[plain.outputNames[0]].data as Float32Array).buffer),
        ),
        `${path.basename(file)} logits differ`,
      );
      const embedding = outputs[edited.output];
      assert.equal(embedding.type, 'float32');
      assert.equal(embedding.dims[0], 2);
      await Promise.all([plain.release(), withEmbedding.release()]);
    }
  });

  test('classify() answers the same with or without the embedding output', async () => {
    const plain = await createClassifier({
      modelPath: TEST_MODEL,
      parallelSessions: 1,
      soloSession: false,
      embeddings: false,
    });
    try {
      const [a, b] = await Promise.all([
        classifier.classify(SHARK_PHOTO, { topK: 5 }),
        plain.classify(SHARK_PHOTO, { topK: 5 }),
      ]);
      assert.deepEqual(a.predictions, b.predictions);
      await assert.rejects(
        plain.embed(SHARK_PHOTO),
        (err) => err instanceof ClassifierError && err.code === 'embeddings_unavailable',
      );
    } finally {
      await plain.close();
    }
  });

  test('a model with no classifier before its output still classifies; embed() fails with embeddings_unavailable', async () => {
    // input -> Flatten -> Slice(0..1000): 1000 "scores" that no classifier makes.
    const model = onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'no-classifier',
        node: [
          { opType: 'Flatten', input: ['input'], output: ['flat'] },
          { opType: 'Slice', input: ['flat', 'starts', 'ends', 'axes'], output: ['output'] },
        ],
        initializer: [
          ['starts', 0],
          ['ends', 1000],
          ['axes', 1],
        ].map(([name, value]) => ({
          name: name as string,
          dataType: onnx.TensorProto.DataType.INT64,
          dims: [1],
          int64Data: [value as number],
        })),
        input: [
          {
            name: 'input',
            type: {
              tensorType: {
                elemType: 1,
                shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }, { dimValue: 224 }, { dimValue: 224 }] },
              },
            },
          },
        ],
        output: [
          {
            name: 'output',
            type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 1000 }] } } },
          },
        ],
      },
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'no-classifier-'));
    const file = path.join(dir, 'model.onnx');
    writeFileSync(file, onnx.ModelProto.encode(model).finish());
    const odd = await createClassifier({ modelPath: file, parallelSessions: 1, soloSession: false });
    try {
      assert.ok('unavailable' in odd.model.embedding && /Slice/.test(odd.model.embedding.unavailable));
      const result = await odd.classify(SHARK_PHOTO);
      assert.equal(result.predictions.length, 5);
      await assert.rejects(odd.embed(SHARK_PHOTO), (err) => {
        assert.ok(err instanceof ClassifierError);
        assert.equal(err.code, 'embeddings_unavailable');
        assert.match(err.message, /Slice/);
        return true;
      });
    } finally {
      await odd.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bytes that are not an ONNX model get a reason, not a throw', () => {
    const edited = withEmbeddingOutput(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    assert.equal(edited.ok, false);
  });
});

describe('custom classes on the shared reef fish', () => {
  test('10 photos per species tell the other 30 apart well above chance (10 species: chance is 10 %)', async () => {
    const examples: Example[] = [];
    for (const label of readdirSync(FISH)) {
      const files = readdirSync(path.join(FISH, label)).sort();
      const embedded = await Promise.all(files.map((f) => classifier.embed(path.join(FISH, label, f), { flip: true })));
      for (const { vector, flipped } of embedded) examples.push({ label, vector, flipped });
    }
    assert.equal(examples.length, 400);
    const evaluation = evaluateSplits(examples, { shots: 10, splits: 1, seed: 1 });
    assert.equal(evaluation.tests, 300);
    // Measured ~83 % top-1 and ~96 % top-3 (bench/fewshot.ts); a generous floor, not a benchmark.
    assert.ok(evaluation.top1 > 0.5, `top-1 ${evaluation.top1}`);
    assert.ok(evaluation.top3 > 0.75, `top-3 ${evaluation.top3}`);
  });
});
