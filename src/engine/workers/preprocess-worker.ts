import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Piscina } from 'piscina';
import {
  preparePixels,
  prepareRawPixels,
  type PreprocessOptions,
  type PreparedPixels,
  type RawRgb,
} from '../preprocess.ts';
import type { ImageInfo } from '../types.ts';
import { toClassifierError } from '../../errors.ts';
import type { ImageHeader } from '../image-header.ts';

export interface PreprocessTask {
  bytes: Uint8Array;
  options: PreprocessOptions;
  /** Read on the main thread for the pixel budget (null: unreadable); absent: read here. */
  header?: ImageHeader | null;
  /** Pixels decoded already (a video frame): only resized and cropped; `bytes` is then empty. */
  raw?: RawRgb & { image: ImageInfo };
}

/** Errors cross the thread boundary as plain data: structured clone drops an Error's own fields. */
export type PreprocessReply =
  | { ok: true; result: PreparedPixels }
  | { ok: false; error: { code: string; message: string; status: number } };

/**
 * A decoded image is one Buffer outside V8's heap (~3 bytes per pixel) that V8 does not count, so it
 * is freed only at some later collection: a thread decoding 100-megapixel images held its previous
 * 300 MB next to the current one, and an idle thread kept its last one for good (issue 14). After a
 * large image the thread collects at once; a collection of this small heap costs about a millisecond.
 * The same `gc` as jest's --logHeapUsage gets, without starting the process with --expose-gc.
 */
const LARGE_DECODE_PIXELS = 8_000_000;
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

export default async function preprocessTask(task: PreprocessTask): Promise<PreprocessReply> {
  try {
    const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    const result = task.raw
      ? prepareRawPixels(task.raw, task.raw.image, task.options)
      : await preparePixels(bytes, task.options, task.header);
    if (result.image.width * result.image.height >= LARGE_DECODE_PIXELS) collectGarbage();
    const reply: PreprocessReply = { ok: true, result };
    // Hand the pixels' memory to the main thread instead of copying it.
    const transferable = { [Piscina.transferableSymbol]: result.pixels.buffer, [Piscina.valueSymbol]: reply };
    return Piscina.move(transferable as unknown as Parameters<typeof Piscina.move>[0]) as unknown as PreprocessReply;
  } catch (err) {
    const e = toClassifierError(err);
    return { ok: false, error: { code: e.code, message: e.message, status: e.status } };
  }
}
