import { createHash } from 'node:crypto';
import { ClassifierError } from '../errors.ts';
import { UrlFetcher, type UrlFetchOptions } from './url.ts';
import { readImageFile } from './file.ts';

/** What a caller may hand to classify(): raw bytes, a local path, or an http(s) URL. */
export type ImageInput = Buffer | Uint8Array | string | URL;

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

/** Reads images from every kind of source under one set of limits; owns the connection pools its URL fetches open. */
export class ImageReader {
  readonly #options: SourceOptions;
  readonly #fetcher = new UrlFetcher();

  constructor(options: SourceOptions) {
    this.#options = options;
  }

  /** Read an image's bytes from whatever the caller handed us; `cancel` aborts a URL fetch. */
  async read(input: ImageInput, cancel?: AbortSignal): Promise<ImageBytes> {
    const options = this.#options;
    const started = performance.now();
    const done = (bytes: Buffer, source: string): ImageBytes => ({
      bytes,
      source,
      fetch_ms: performance.now() - started,
    });

    if (Buffer.isBuffer(input) || input instanceof Uint8Array)
      return done(checkedBytes(input, options.maxBytes), 'upload');
    const text = input instanceof URL ? input.href : input;
    if (input instanceof URL || isHttpUrl(text) || /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      const fetched = await this.#fetcher.fetch(
        text,
        { ...options.url, maxBytes: Math.min(options.url.maxBytes ?? Infinity, options.maxBytes) },
        cancel,
      );
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

  /** Closes the URL connection pools, so nothing this reader opened keeps the process alive. */
  close(): Promise<void> {
    return this.#fetcher.close();
  }
}

function checkedBytes(input: Buffer | Uint8Array, maxBytes: number): Buffer {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length > maxBytes) {
    throw new ClassifierError('image_too_large_bytes', `The image is ${bytes.length} bytes; the limit is ${maxBytes}.`);
  }
  return bytes;
}

export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
