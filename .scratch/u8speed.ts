import { loadSession } from '../src/engine/session.ts';
const S = '../shared/models/';
const variants = [
  ['mobilenet s8', S + 'mobilenetv2-12-int8.onnx', false],
  ['mobilenet u8', S + 'mobilenetv2-12-int8.onnx', true],
  ['resnet qdq s8', S + 'bench/resnet50-untrained-int8-qdq.onnx', false],
  ['resnet qdq u8', S + 'bench/resnet50-untrained-int8-qdq.onnx', true],
  ['resnet fp32', S + 'bench/resnet50-untrained.onnx', false],
] as const;
const sessions = [];
for (const [name, path, unsigned] of variants)
  sessions.push({ name, s: await loadSession(path, { intraOpThreads: 2, executionProvider: 'cpu', unsignedWeights: unsigned }) });
const input = new Float32Array(8 * 3 * 224 * 224).map(() => Math.random() * 2 - 1);
const rates: Record<string, number[]> = {};
for (let round = 0; round < 3; round++)
  for (const { name, s } of sessions) {
    const n = name.startsWith('mobilenet') ? 20 : 4;
    const t = performance.now();
    for (let i = 0; i < n; i++) await s.run(input, 8);
    (rates[name] ??= []).push((n * 8 * 1000) / (performance.now() - t));
  }
for (const [k, v] of Object.entries(rates)) console.log(k, v.map((x) => x.toFixed(1)).join(' '), 'img/s');
