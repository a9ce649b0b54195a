import * as ort from 'onnxruntime-node';
import { ClassifierError } from '../errors.ts';

/** What the engine needs to know about a model, read from the file rather than assumed. */
export interface ModelSignature {
  inputName: string;
  outputName: string;
  layout: 'NCHW' | 'NHWC';
  /** Input height = width. */
  size: number;
  /** A model exported with a fixed batch dimension can only take that many images per run. */
  fixedBatch: number | null;
  /** Output classes: 1000, or 1001 for TensorFlow exports with a background class at index 0. */
  classes: number;
}

export interface SessionOptions {
  intraOpThreads: number;
  /** 'cpu' always works; 'cuda' needs onnxruntime-node's CUDA binaries (see README). */
  executionProvider: 'cpu' | 'cuda';
  /** Let idle inference threads busy-wait: lower latency when nothing else needs the cores. */
  allowSpinning?: boolean;
}

export interface LoadedSession {
  signature: ModelSignature;
  /** Runs one batch; `input` holds `batch` images back to back; returns batch x classes scores. */
  run(input: Float32Array, batch: number): Promise<Float32Array>;
}

function dimension(value: unknown): number | null {
  return typeof value === 'number' && value > 0 ? value : null;
}

function signatureOf(session: ort.InferenceSession, path: string): ModelSignature {
  const input = session.inputMetadata[0];
  const output = session.outputMetadata[0];
  const notClassifier = (why: string) =>
    new ClassifierError(
      'model_unsupported',
      `${path} is not an ImageNet image classifier this service can run: ${why}.`,
    );
  if (!input?.isTensor || !output?.isTensor) throw notClassifier('its first input and output are not tensors');
  if (input.type !== 'float32') throw notClassifier(`its input is ${input.type}, not float32`);
  const dims = input.shape;
  if (dims.length !== 4) throw notClassifier(`its input has ${dims.length} dimensions instead of 4`);
  const layout = dimension(dims[1]) === 3 ? 'NCHW' : dimension(dims[3]) === 3 ? 'NHWC' : null;
  if (!layout) throw notClassifier('its input has no 3-channel axis');
  const size = dimension(layout === 'NCHW' ? dims[2] : dims[1]) ?? 224;
  const classes = dimension(output.shape[output.shape.length - 1]);
  if (classes !== 1000 && classes !== 1001)
    throw notClassifier(`it outputs ${classes ?? 'a dynamic number of'} classes, not the 1000 ImageNet classes`);
  return { inputName: input.name, outputName: output.name, layout, size, fixedBatch: dimension(dims[0]), classes };
}

/** Load an ONNX classifier, read its signature and warm it up so the first request is not slow. */
export async function loadSession(path: string, options: SessionOptions): Promise<LoadedSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, {
      executionProviders: options.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableCpuMemArena: true,
      enableMemPattern: true,
      // Idle ONNX Runtime threads spin by default, taking the cores the decoding threads need.
      extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
    });
  } catch (err) {
    throw new ClassifierError(
      'model_unloadable',
      `Could not load the ONNX model at ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const signature = signatureOf(session, path);
  const imageLength = 3 * signature.size * signature.size;
  const shapeFor = (batch: number) =>
    signature.layout === 'NCHW'
      ? [batch, 3, signature.size, signature.size]
      : [batch, signature.size, signature.size, 3];

  async function run(input: Float32Array, batch: number): Promise<Float32Array> {
    const tensor = new ort.Tensor('float32', input.subarray(0, batch * imageLength), shapeFor(batch));
    const outputs = await session.run({ [signature.inputName]: tensor });
    return outputs[signature.outputName].data as Float32Array;
  }

  await run(new Float32Array(imageLength * (signature.fixedBatch ?? 1)), signature.fixedBatch ?? 1);
  return { signature, run };
}
