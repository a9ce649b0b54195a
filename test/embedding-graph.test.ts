/**
 * The walk from the logits to the pooled features on small graphs shaped like the catalogue's
 * heads (the real files cannot be downloaded here): ResNet v1 (GlobalAveragePool -> Flatten ->
 * Gemm), ResNet v2 and MobileNetV2 fp32 (Reshape -> Gemm), MatMul + Add, a 1x1-convolution head
 * ending in Softmax. The shared models (QLinearMatMul, QDQ) are covered in embed.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { withEmbeddingOutput } from '../src/engine/embedding-graph.ts';
import { loadSession } from '../src/engine/session.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const dir = mkdtempSync(path.join(tmpdir(), 'embedding-graph-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const floats = (name: string, dims: number[], value: (i: number) => number) => ({
  name,
  dataType: FLOAT,
  dims,
  floatData: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => value(i)),
});
const int64s = (name: string, values: number[]) => ({
  name,
  dataType: onnx.TensorProto.DataType.INT64,
  dims: [values.length],
  int64Data: values,
});
const weight = (i: number) => Math.sin(i * 0.7);

function modelFile(
  name: string,
  node: onnxProto.onnx.INodeProto[],
  initializer: onnxProto.onnx.ITensorProto[],
): string {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name,
      node,
      initializer,
      input: [
        {
          name: 'input',
          type: {
            tensorType: {
              elemType: FLOAT,
              shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }, { dimValue: 224 }, { dimValue: 224 }] },
            },
          },
        },
      ],
      output: [
        {
          name: 'logits',
          type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 1000 }] } } },
        },
      ],
    },
  });
  const file = path.join(dir, `${name}.onnx`);
  writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

const HEADS: Record<string, [onnxProto.onnx.INodeProto[], onnxProto.onnx.ITensorProto[]]> = {
  'GlobalAveragePool -> Flatten -> Gemm': [
    [
      { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
      { opType: 'Flatten', input: ['pooled'], output: ['flat'] },
      { opType: 'Gemm', input: ['flat', 'W', 'b'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
    ],
    [floats('W', [1000, 3], weight), floats('b', [1000], () => 0.1)],
  ],
  'GlobalAveragePool -> Reshape -> Gemm': [
    [
      { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
      { opType: 'Reshape', input: ['pooled', 'shape'], output: ['flat'] },
      { opType: 'Gemm', input: ['flat', 'W', 'b'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
    ],
    [floats('W', [1000, 3], weight), floats('b', [1000], () => 0.1), int64s('shape', [0, -1])],
  ],
  'MatMul -> Add': [
    [
      { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
      { opType: 'Flatten', input: ['pooled'], output: ['flat'] },
      { opType: 'MatMul', input: ['flat', 'W'], output: ['scores'] },
      { opType: 'Add', input: ['scores', 'b'], output: ['logits'] },
    ],
    [floats('W', [3, 1000], weight), floats('b', [1000], () => 0.1)],
  ],
  '1x1 Conv -> Flatten -> Softmax': [
    [
      { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
      { opType: 'Conv', input: ['pooled', 'W', 'b'], output: ['conv'] },
      { opType: 'Flatten', input: ['conv'], output: ['flat'] },
      { opType: 'Softmax', input: ['flat'], output: ['logits'] },
    ],
    [floats('W', [1000, 3, 1, 1], weight), floats('b', [1000], () => 0.1)],
  ],
};

for (const [name, [nodes, initializers]] of Object.entries(HEADS)) {
  test(`${name}: the pooled vector is found and comes out normalised beside the logits`, async () => {
    const file = modelFile(name.replace(/\W+/g, '-'), nodes, initializers);
    const plain = await loadSession(file, { intraOpThreads: 1, executionProvider: 'cpu', embeddings: false });
    const session = await loadSession(file, { intraOpThreads: 1, executionProvider: 'cpu' });
    assert.deepEqual(session.embedding, { tensor: name.startsWith('1x1') ? 'pooled' : 'flat', length: 3 });
    // Two images whose channels are constant: the pooled vectors are (1, 2, 3) and (3, 0, 4).
    const plane = 224 * 224;
    const input = new Float32Array(2 * 3 * plane);
    for (const [c, v] of [1, 2, 3, 3, 0, 4].entries()) input.fill(v, c * plane, (c + 1) * plane);
    const { scores, embeddings } = await session.run(input.slice(), 2);
    const expected = [1, 2, 3].map((v) => v / Math.sqrt(14)).concat([3 / 5, 0, 4 / 5]);
    assert.ok(embeddings);
    assert.equal(embeddings.length, 6);
    for (const [i, v] of embeddings.entries())
      assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v} vs ${expected[i]}`);
    assert.deepEqual(scores, (await plain.run(input.slice(), 2)).scores, 'logits unchanged');
  });
}

test('a model whose output comes from an op the walk does not know is left as it is, with the reason', () => {
  const file = modelFile(
    'slice',
    [
      { opType: 'Flatten', input: ['input'], output: ['flat'] },
      { opType: 'Slice', input: ['flat', 'starts', 'ends', 'axes'], output: ['logits'] },
    ],
    [int64s('starts', [0]), int64s('ends', [1000]), int64s('axes', [1])],
  );
  const edited = withEmbeddingOutput(readFileSync(file));
  assert.equal(edited.ok, false);
  assert.match(edited.ok ? '' : edited.why, /Slice/);
});
