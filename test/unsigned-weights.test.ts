/**
 * int8 weights made unsigned where the CPU has no int8 dot product (src/engine/unsigned-weights.ts):
 * the rule, the graph edit on both shared int8 layouts (QLinear and QDQ), and that the edited
 * MobileNetV2 answers the reference's own probabilities from the reference's own input tensor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { loadSession } from '../src/engine/session.ts';
import { needsUnsignedWeights, withUnsignedWeights } from '../src/engine/unsigned-weights.ts';
import { TEST_MODEL, referenceTop5, sharedPath } from './helpers/shared.ts';

const { onnx } = onnxProto;

test('only x86-64 without VNNI or AMX needs unsigned weights', () => {
  assert.equal(needsUnsignedWeights('x64', new Set(['avx2', 'fma'])), true);
  assert.equal(needsUnsignedWeights('x64', new Set(['avx2', 'avx512f', 'avx512bw'])), true);
  assert.equal(needsUnsignedWeights('x64', new Set(['avx2', 'avx512_vnni'])), false);
  assert.equal(needsUnsignedWeights('x64', new Set(['avx2', 'avx_vnni'])), false);
  assert.equal(needsUnsignedWeights('x64', new Set(['amx_int8'])), false);
  assert.equal(needsUnsignedWeights('arm64', new Set()), false);
});

function int8Initializers(bytes: Uint8Array): number {
  const graph = onnx.ModelProto.decode(bytes).graph;
  return (graph?.initializer ?? []).filter((t) => t.dataType === onnx.TensorProto.DataType.INT8).length;
}

test('every int8 weight and weight zero point becomes uint8, in QLinear and QDQ models; fp32 models are left alone', () => {
  for (const file of [TEST_MODEL, sharedPath('models', 'bench', 'resnet50-untrained-int8-qdq.onnx')]) {
    const original = readFileSync(file);
    assert.ok(int8Initializers(original) > 50, file);
    const edited = withUnsignedWeights(original);
    assert.ok(edited, file);
    assert.equal(int8Initializers(edited), 0, file);
  }
  assert.equal(withUnsignedWeights(readFileSync(sharedPath('models', 'bench', 'resnet50-untrained.onnx'))), null);
  assert.equal(withUnsignedWeights(new Uint8Array([1, 2, 3])), null);
});

test('with unsigned weights the shared MobileNetV2 gives the reference probabilities for the reference tensor', async () => {
  const session = await loadSession(TEST_MODEL, {
    intraOpThreads: 1,
    executionProvider: 'cpu',
    unsignedWeights: true,
  });
  assert.ok('tensor' in session.embedding, 'the edited graph still gives pooled features');
  const raw = readFileSync(sharedPath('reference', 'tensors', 'test_image_shark.jpg.f32'));
  const input = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const { scores } = await session.run(input, 1);
  const max = Math.max(...scores);
  const exp = Array.from(scores, (s) => Math.exp(s - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  const expected = referenceTop5().top5['images/photos/test_image_shark.jpg'];
  for (const { index, probability } of expected) {
    assert.ok(Math.abs(exp[index] / sum - probability) < 1e-5, `class ${index}: ${exp[index] / sum} vs ${probability}`);
  }
});
