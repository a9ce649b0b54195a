/**
 * libjpeg-turbo called directly (native/jpeg/jpeg_decode.c) for the common JPEG: the same pixels as
 * sharp gives, for about a third of the CPU on ImageNet-size photos. The addon is compiled at
 * install when libjpeg-turbo's headers are there (scripts/build-native.mjs); without it, sharp
 * decodes every image as before.
 */
import { createRequire } from 'node:module';

/** Packed 8-bit RGB, width x height x 3 bytes from the start of `data` (which may be longer). */
export interface DecodedRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

interface Addon {
  decode(bytes: Uint8Array, maxPixels: number, scratch: Uint8Array | null): DecodedRgb | null;
}

/**
 * Pixels kept for reuse per thread, at most: up to ~2.8 megapixels (web and ImageNet-size photos,
 * 1080p frames). Larger photos get a buffer of their own, freed with them, so an idle service does
 * not keep a camera photo's worth of memory per decoding thread.
 */
const SCRATCH_MAX_BYTES = 8 * 1024 * 1024;

function loadAddon(): Addon | null {
  try {
    // src/engine and dist/engine are both two folders below the package root, where node-gyp builds.
    return createRequire(import.meta.url)('../../build/Release/jpeg_decode.node') as Addon;
  } catch {
    return null;
  }
}

const addon = loadAddon();
let scratch: Uint8Array | null = null;

/** Whether JPEGs can be decoded here without sharp (JPEG_DECODER=auto uses it then). */
export function directJpegAvailable(): boolean {
  return addon !== null;
}

/**
 * A plain JPEG (8-bit YCbCr, RGB or grey) decoded as it is stored, no EXIF rotation, no colour
 * profile; null for anything else, for files libjpeg warns about and without the addon: the caller
 * then decodes with sharp, so errors and unusual files behave as they always did.
 *
 * The pixels live in this thread's reusable buffer until the next call: the caller resizes them
 * into a buffer of its own straight away.
 */
export function decodePlainJpeg(bytes: Uint8Array, maxPixels: number): DecodedRgb | null {
  if (!addon) return null;
  let decoded: DecodedRgb | null;
  try {
    decoded = addon.decode(bytes, maxPixels, scratch);
  } catch {
    return null; // no memory for the pixels: sharp reports it the usual way
  }
  if (decoded && decoded.data !== scratch && decoded.data.byteLength <= SCRATCH_MAX_BYTES) scratch = decoded.data;
  return decoded;
}
