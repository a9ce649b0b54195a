import { preprocessImage, type PreprocessOptions, type PreprocessedImage } from '../preprocess.ts';
import { toClassifierError } from '../../errors.ts';

export interface PreprocessTask {
  bytes: Uint8Array;
  options: PreprocessOptions;
}

/** Errors cross the thread boundary as plain data: structured clone drops an Error's own fields. */
export type PreprocessReply =
  | { ok: true; result: PreprocessedImage }
  | { ok: false; error: { code: string; message: string; status: number } };

export default async function preprocessTask(task: PreprocessTask): Promise<PreprocessReply> {
  try {
    const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    return { ok: true, result: await preprocessImage(bytes, task.options) };
  } catch (err) {
    const e = toClassifierError(err);
    return { ok: false, error: { code: e.code, message: e.message, status: e.status } };
  }
}
