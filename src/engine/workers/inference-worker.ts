import { workerData } from 'node:worker_threads';
import { loadSession, type ModelSignature, type SessionOptions } from '../session.ts';
import { toClassifierError } from '../../errors.ts';

/**
 * The ONNX Runtime session lives on its own thread because session.run() blocks the thread it is
 * called on for the whole inference (measured: a 245 ms ResNet-50 batch stalls every timer), and
 * the event loop must keep serving requests and decoding meanwhile.
 */
const { modelPath, session: sessionOptions } = workerData as { modelPath: string; session: SessionOptions };
const loaded = loadSession(modelPath, sessionOptions);
loaded.catch(() => {}); // reported through the first task instead of as an unhandled rejection

export type InferenceTask = { kind: 'signature' } | { kind: 'run'; input: Float32Array; batch: number };
export type InferenceReply =
  | { ok: true; signature?: ModelSignature; scores?: Float32Array }
  | { ok: false; error: { code: string; message: string; status: number } };

export default async function inferenceTask(task: InferenceTask): Promise<InferenceReply> {
  try {
    const session = await loaded;
    if (task.kind === 'signature') return { ok: true, signature: session.signature };
    const scores = await session.run(task.input, task.batch);
    return { ok: true, scores };
  } catch (err) {
    const e = toClassifierError(err);
    return { ok: false, error: { code: e.code, message: e.message, status: e.status } };
  }
}
