/** The decoding threads: each turns image bytes into the model's input pixels, off the main thread. */
import { Piscina } from 'piscina';
import sharp from 'sharp';
import { errorFromReply } from '../errors.ts';
import { readImageHeader, type ImageHeader } from './image-header.ts';
import { decodedPixels } from './shrink-on-load.ts';
import { sniffImageFormat } from '../sources/sniff.ts';
import { PixelBudget, type PixelBudgetStats } from './pixel-budget.ts';
import type { PreparedPixels, PreprocessOptions, RawRgb } from './preprocess.ts';
import type { ImageInfo } from './types.ts';
import type { PreprocessReply, PreprocessTask } from './workers/preprocess-worker.ts';
import { siblingWorker, workerModule } from './workers/worker-module.ts';

export class DecoderPool {
  readonly #pool: Piscina<PreprocessTask, PreprocessReply>;
  readonly #options: PreprocessOptions;
  readonly #threads: number;
  readonly #budget: PixelBudget;

  constructor(threads: number, options: PreprocessOptions, pixelBudget: number) {
    const worker = workerModule(siblingWorker('preprocess-worker'));
    this.#pool = new Piscina<PreprocessTask, PreprocessReply>({
      filename: worker.filename,
      execArgv: worker.execArgv,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      // Idle threads keep their event loop running (not asleep in Atomics.wait): the memory of a
      // decoded image comes back in a callback on that loop after its collection (preprocess-worker.ts).
      atomics: 'async',
    });
    this.#options = options;
    this.#threads = threads;
    this.#budget = new PixelBudget(pixelBudget);
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

  /** What every image is decoded with unless prepare() is told otherwise. */
  get options(): PreprocessOptions {
    return this.#options;
  }

  /** Decodes once the image's pixels fit in the budget; `cancel` gives up waiting (the caller went away). */
  async prepare(bytes: Buffer, cancel?: AbortSignal, options = this.#options): Promise<PreparedPixels> {
    const header = await readImageHeader(bytes);
    const release = await this.#budget.reserve(this.#pixelsToDecode(bytes, header), cancel);
    try {
      const reply = await this.#pool.run({ bytes, options, header });
      if (!reply.ok) throw errorFromReply(reply.error);
      return reply.result;
    } finally {
      release();
    }
  }

  /** Resizes and crops pixels decoded elsewhere (video frames), under the same budget, on the same threads. */
  async prepareRaw(raw: RawRgb, image: ImageInfo, cancel?: AbortSignal): Promise<PreparedPixels> {
    const pixels = raw.width * raw.height;
    const release = await this.#budget.reserve(pixels <= this.#options.maxPixels ? pixels : 0, cancel);
    try {
      const task: PreprocessTask = {
        bytes: new Uint8Array(0),
        options: this.#options,
        raw: { data: raw.data, width: raw.width, height: raw.height, image },
      };
      const reply = await this.#pool.run(task);
      if (!reply.ok) throw errorFromReply(reply.error);
      return reply.result;
    } finally {
      release();
    }
  }

  /** Decoded pixels in flight: reserved now, the most at once, images waiting. */
  budget(): PixelBudgetStats {
    return this.#budget.stats();
  }

  /**
   * The pixels decoding will hold, from the header (no decoding): fewer than the photo's when the
   * decoder shrinks it (RESIZE auto/fast). Nothing for what the decoder refuses before decoding
   * (too many pixels, no image): its error comes without waiting.
   */
  #pixelsToDecode(bytes: Buffer, header: ImageHeader | null): number {
    if (!header || header.width * header.height > this.#options.maxPixels) return 0;
    const format = sniffImageFormat(bytes) ?? 'unknown';
    return decodedPixels(header.width, header.height, header.orientation, format, this.#options);
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
