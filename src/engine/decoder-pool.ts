/** The decoding threads: each turns image bytes into the model's input pixels, off the main thread. */
import { Piscina } from 'piscina';
import sharp from 'sharp';
import { errorFromReply } from '../errors.ts';
import type { PreparedPixels, PreprocessOptions } from './preprocess.ts';
import type { PreprocessReply, PreprocessTask } from './workers/preprocess-worker.ts';
import { siblingWorker, workerModule } from './workers/worker-module.ts';

export class DecoderPool {
  readonly #pool: Piscina<PreprocessTask, PreprocessReply>;
  readonly #options: PreprocessOptions;
  readonly #threads: number;

  constructor(threads: number, options: PreprocessOptions) {
    const worker = workerModule(siblingWorker('preprocess-worker'));
    this.#pool = new Piscina<PreprocessTask, PreprocessReply>({
      filename: worker.filename,
      execArgv: worker.execArgv,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
    });
    this.#options = options;
    this.#threads = threads;
  }

  /** Loads the decoding code in every thread now, so the first requests do not pay for it. */
  async warmUp(): Promise<void> {
    const image = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#3366aa' } })
      .jpeg()
      .toBuffer();
    await Promise.all(
      Array.from({ length: this.#threads }, () => this.#pool.run({ bytes: image, options: this.#options })),
    );
  }

  async prepare(bytes: Buffer): Promise<PreparedPixels> {
    const reply = await this.#pool.run({ bytes, options: this.#options });
    if (!reply.ok) throw errorFromReply(reply.error);
    return reply.result;
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
