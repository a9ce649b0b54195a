import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { ClassifierError } from '../errors.ts';
import { withEmbeddingOutput } from './embedding-graph.ts';
import { needsUnsignedWeights, withUnsignedWeights } from './unsigned-weights.ts';

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
  /** Add the pooled features as a second output (default); false loads the file without them. */
  embeddings?: boolean;
  /** Shift int8 weights to uint8 (unsigned-weights.ts); default: where the CPU needs it. */
  unsignedWeights?: boolean;
}

/** The pooled-feature output the loaded graph was given, or why it has none (embedding-graph.ts). */
export type EmbeddingSupport =
  | { /** The model's own pooled tensor. */ tensor: string; length: number }
  | { unavailable: string };

export interface SessionOutput {
  /** batch x classes scores. */
  scores: Float32Array;
  /** batch x features, L2-normalised per image; null when the model has no embedding output. */
  embeddings: Float32Array | null;
}

export interface LoadedSession {
  signature: ModelSignature;
  embedding: EmbeddingSupport;
  /** Runs one batch; `input` holds `batch` images back to back. */
  run(input: Float32Array, batch: number): Promise<SessionOutput>;
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

/** Normalises each row of a batch x length matrix in place, so a dot product is the cosine similarity. */
export function normaliseRows(values: Float32Array, length: number): Float32Array {
  for (let offset = 0; offset < values.length; offset += length) {
    let sum = 0;
    for (let i = offset; i < offset + length; i++) sum += values[i] * values[i];
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let i = offset; i < offset + length; i++) values[i] *= scale;
  }
  return values;
}

interface ModelToLoad {
  /** What the session is made from: the path, or the edited bytes. */
  model: string | Uint8Array;
  /** The same without the embedding output, for a runtime that refuses the added output. */
  plain: string | Uint8Array;
  embedding: string | null;
  feature: string;
  why: string;
}

/** The model file, with unsigned weights where needed and the embedding output when one is found and wanted. */
async function modelOf(path: string, wanted: boolean, unsigned: boolean): Promise<ModelToLoad> {
  const none = { embedding: null, feature: '' };
  const off = 'embeddings were turned off for this engine';
  if (!wanted && !unsigned) return { model: path, plain: path, ...none, why: off };
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    // The loader below reports the unreadable file in its own words.
    return { model: path, plain: path, ...none, why: 'the model file could not be read' };
  }
  const plain = (unsigned && withUnsignedWeights(bytes)) || bytes;
  if (!wanted) return { model: plain, plain, ...none, why: off };
  const edited = withEmbeddingOutput(plain);
  return edited.ok
    ? { model: edited.model, plain, embedding: edited.output, feature: edited.feature, why: '' }
    : { model: plain, plain, ...none, why: edited.why };
}

function sessionOptionsOf(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: options.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableCpuMemArena: true,
    enableMemPattern: true,
    // Idle ONNX Runtime threads spin by default, taking the cores the decoding threads need.
    extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
  };
}

async function createSession(path: string, model: string | Uint8Array, options: SessionOptions) {
  try {
    const sessionOptions = sessionOptionsOf(options);
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions);
  } catch (err) {
    throw new ClassifierError(
      'model_unloadable',
      `Could not load the ONNX model at ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** Load an ONNX classifier, read its signature and warm it up so the first request is not slow. */
export async function loadSession(path: string, options: SessionOptions): Promise<LoadedSession> {
  const unsigned = options.unsignedWeights ?? needsUnsignedWeights();
  const { model, plain, feature, ...found } = await modelOf(path, options.embeddings ?? true, unsigned);
  let { embedding: embeddingOutput, why } = found;
  let session: ort.InferenceSession;
  try {
    session = await createSession(path, model, options);
  } catch (err) {
    if (!embeddingOutput) throw err;
    // The model still classifies as it is; only custom classes are lost, and the reason kept for them.
    session = await createSession(path, plain, options);
    why = `ONNX Runtime refused the graph with the added output (${(err as Error).message})`;
    embeddingOutput = null;
  }
  const signature = signatureOf(session, path);
  const imageLength = 3 * signature.size * signature.size;
  const shapeFor = (batch: number) =>
    signature.layout === 'NCHW'
      ? [batch, 3, signature.size, signature.size]
      : [batch, signature.size, signature.size, 3];

  async function run(input: Float32Array, batch: number): Promise<SessionOutput> {
    const tensor = new ort.Tensor('float32', input.subarray(0, batch * imageLength), shapeFor(batch));
    const outputs = await session.run({ [signature.inputName]: tensor });
    const scores = outputs[signature.outputName].data as Float32Array;
    const features = embeddingOutput ? (outputs[embeddingOutput].data as Float32Array) : null;
    return { scores, embeddings: features && normaliseRows(features, features.length / batch) };
  }

  const warmBatch = signature.fixedBatch ?? 1;
  const warm = await run(new Float32Array(imageLength * warmBatch), warmBatch);
  const embedding: EmbeddingSupport =
    embeddingOutput && warm.embeddings
      ? { tensor: feature, length: warm.embeddings.length / warmBatch }
      : { unavailable: why };
  return { signature, embedding, run };
}
