import { Piscina } from 'piscina';
import { preparePixels, type PreprocessOptions, type PreparedPixels } from '../preprocess.ts';
import { toClassifierError } from '../../errors.ts';

export interface PreprocessTask {
  bytes: Uint8Array;
  options: PreprocessOptions;
}

/** Errors cross the thread boundary as plain data: structured clone drops an Error's own fields. */
export type PreprocessReply =
  | { ok: true; result: PreparedPixels }
  | { ok: false; error: { code: string; message: string; status: number } };

export default async function preprocessTask(task: PreprocessTask): Promise<PreprocessReply> {
  try {
    const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    const result = await preparePixels(bytes, task.options);
    const reply: PreprocessReply = { ok: true, result };
    // Hand the pixels' memory to the main thread instead of copying it.
    const transferable = { [Piscina.transferableSymbol]: result.pixels.buffer, [Piscina.valueSymbol]: reply };
    return Piscina.move(transferable as unknown as Parameters<typeof Piscina.move>[0]) as unknown as PreprocessReply;
  } catch (err) {
    const e = toClassifierError(err);
    return { ok: false, error: { code: e.code, message: e.message, status: e.status } };
  }
}
