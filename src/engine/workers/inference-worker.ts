import { workerData } from 'node:worker_threads';
import {
  loadSession,
  type EmbeddingSupport,
  type ModelSignature,
  type SessionOutput,
  type SessionOptions,
} from '../session.ts';
import { writeTensor } from '../tensor.ts';
import { toClassifierError } from '../../errors.ts';
import { currentThreadId, processThreadIds } from '../thread-cpu.ts';

/**
 * The ONNX Runtime session lives on its own thread because session.run() blocks the thread it is
 * called on for the whole inference (measured: a 245 ms ResNet-50 batch stalls every timer), and
 * the event loop must keep serving requests and decoding meanwhile.
 */
const { modelPath, session: sessionOptions } = workerData as { modelPath: string; session: SessionOptions };
const threadsBefore = new Set(processThreadIds());
const loaded = loadSession(modelPath, sessionOptions);
loaded.catch(() => {}); // reported through the first task instead of as an unhandled rejection

/** This thread and the threads its session started: the ones that must keep normal priority. */
async function ownThreads(): Promise<number[]> {
  await loaded;
  const own = currentThreadId();
  return [...(own === null ? [] : [own]), ...processThreadIds().filter((id) => !threadsBefore.has(id))];
}

export type InferenceTask = { kind: 'signature' } | { kind: 'run'; images: Uint8Array[] };
export type InferenceReply =
  | {
      ok: true;
      signature?: ModelSignature;
      embedding?: EmbeddingSupport;
      threads?: number[];
      output?: SessionOutput;
    }
  | { ok: false; error: { code: string; message: string; status: number } };

/**
 * One input tensor, grown to the largest batch seen and reused: a new 600 KB-per-image array for
 * every batch made the garbage collector a visible share of the CPU under load. One task runs at
 * a time on this thread, so the reuse is safe.
 */
let input = new Float32Array(0);

async function outputOf(images: Uint8Array[]): Promise<SessionOutput> {
  const session = await loaded;
  const { size, layout, fixedBatch, classes } = session.signature;
  const imageLength = 3 * size * size;
  // A model with a fixed batch dimension gets a full batch; the extra slots' answers are dropped.
  const batch = fixedBatch ?? images.length;
  if (input.length < batch * imageLength) input = new Float32Array(batch * imageLength);
  images.forEach((pixels, i) => {
    writeTensor(pixels, size, layout, input, i * imageLength);
  });
  const output = await session.run(input, batch);
  if (batch === images.length) return output;
  const { scores, embeddings } = output;
  const features = embeddings ? embeddings.length / batch : 0;
  return {
    scores: scores.slice(0, images.length * classes),
    embeddings: embeddings ? embeddings.slice(0, images.length * features) : null,
  };
}

export default async function inferenceTask(task: InferenceTask): Promise<InferenceReply> {
  try {
    if (task.kind === 'signature') {
      const { signature, embedding } = await loaded;
      return { ok: true, signature, embedding, threads: await ownThreads() };
    }
    return { ok: true, output: await outputOf(task.images) };
  } catch (err) {
    const e = toClassifierError(err);
    return { ok: false, error: { code: e.code, message: e.message, status: e.status } };
  }
}
