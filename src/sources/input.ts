import { createHash } from 'node:crypto';
import { ClassifierError } from '../errors.ts';
import type { ImageInput } from '../engine/types.ts';
import { fetchImageFromUrl, type UrlFetchOptions } from './url.ts';
import { readImageFile } from './file.ts';

export interface SourceOptions {
  /** Largest image accepted from any source, in bytes. */
  maxBytes: number;
  url: Partial<UrlFetchOptions>;
  /** false: strings are never read as local paths (the HTTP service without an image root). */
  allowFiles: boolean;
  /** Local paths are confined to this folder when set. */
  imageRoot: string | null;
}

export interface ImageBytes {
  bytes: Buffer;
  /** Where the image came from, for reports: a path, a URL or "upload". */
  source: string;
  fetch_ms: number;
}

export function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/** Read an image's bytes from whatever the caller handed us. */
export async function readImageBytes(input: ImageInput, options: SourceOptions): Promise<ImageBytes> {
  const started = performance.now();
  const done = (bytes: Buffer, source: string): ImageBytes => ({
    bytes,
    source,
    fetch_ms: performance.now() - started,
  });

  if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (bytes.length > options.maxBytes) {
      throw new ClassifierError(
        'image_too_large_bytes',
        `The image is ${bytes.length} bytes; the limit is ${options.maxBytes}.`,
      );
    }
    return done(bytes, 'upload');
  }
  const text = input instanceof URL ? input.href : input;
  if (input instanceof URL || isHttpUrl(text) || /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const fetched = await fetchImageFromUrl(text, {
      ...options.url,
      maxBytes: Math.min(options.url.maxBytes ?? Infinity, options.maxBytes),
    });
    return done(fetched.bytes, text);
  }
  if (!options.allowFiles) {
    throw new ClassifierError(
      'files_not_allowed',
      'Local file paths are not accepted here; send the image itself or an http(s) URL.',
    );
  }
  return done(await readImageFile(text, { maxBytes: options.maxBytes, root: options.imageRoot }), text);
}

export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
