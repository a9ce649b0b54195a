import { Piscina } from 'piscina';
import { ClassifierError, errorFromReply } from '../errors.ts';
import type { EmbeddingSupport, ModelSignature, SessionOptions, SessionOutput } from './session.ts';
import { siblingWorker, workerModule } from './workers/worker-module.ts';
import type { InferenceReply, InferenceTask } from './workers/inference-worker.ts';

export interface InferenceLane {
  signature: ModelSignature;
  embedding: EmbeddingSupport;
  /** Kernel ids of the lane's thread and its session's threads (empty where not on Linux). */
  threads: number[];
  run(images: Uint8Array[]): Promise<SessionOutput>;
  close(): Promise<void>;
}

/** One ONNX Runtime session on its own thread (a run blocks the thread it is called on). */
export async function startInferenceLane(modelPath: string, session: SessionOptions): Promise<InferenceLane> {
  const inferenceWorker = workerModule(siblingWorker('inference-worker'));
  const pool = new Piscina<InferenceTask, InferenceReply>({
    filename: inferenceWorker.filename,
    execArgv: inferenceWorker.execArgv,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: Infinity,
    workerData: { modelPath, session },
  });
  const reply = await pool.run({ kind: 'signature' });
  if (!reply.ok) {
    await pool.destroy();
    throw errorFromReply(reply.error);
  }
  return {
    signature: answered(reply.signature, 'its model signature'),
    embedding: answered(reply.embedding, 'its embedding output'),
    threads: reply.threads ?? [],
    async run(images) {
      // Every image's pixels own their buffer (made by the decoding thread), so they move, not copy.
      const result = await pool.run(
        { kind: 'run', images },
        { transferList: images.map((pixels) => pixels.buffer as ArrayBuffer) },
      );
      if (!result.ok) throw errorFromReply(result.error);
      return answered(result.output, 'scores');
    },
    close: () => pool.destroy(),
  };
}

/** A field the inference thread's protocol always fills for this kind of task. */
function answered<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new ClassifierError('internal_error', `The inference thread answered without ${what}.`);
  return value;
}
