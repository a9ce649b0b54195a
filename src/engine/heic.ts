/**
 * HEIC (HEVC-coded HEIF, the iPhone camera's format) to RGBA pixels. sharp's prebuilt libvips
 * reads the HEIF container but has no HEVC decoder, so this uses libheif compiled to WebAssembly
 * (heic-decode over libheif-js). It applies the container's rotation and mirroring itself, so the
 * pixels come out upright; it is several times slower than libvips on a JPEG of the same size.
 */
import decodeHeif from 'heic-decode';
import { ClassifierError } from '../errors.ts';

export interface RgbaImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** The primary image's pixels; its size is checked against `maxPixels` before anything is decoded. */
export async function decodeHeic(
  bytes: Buffer,
  maxPixels: number,
  tooManyPixels: (width: number, height: number) => ClassifierError,
): Promise<RgbaImage> {
  let images: Awaited<ReturnType<typeof decodeHeif.all>>;
  try {
    images = await decodeHeif.all({ buffer: bytes });
  } catch (err) {
    throw corruptHeic(err);
  }
  try {
    const primary = images[0];
    if (primary.width * primary.height > maxPixels) throw tooManyPixels(primary.width, primary.height);
    const { data, width, height } = await primary.decode().catch((err: unknown) => {
      throw corruptHeic(err);
    });
    return { data, width, height };
  } finally {
    images.dispose();
  }
}

function corruptHeic(err: unknown): ClassifierError {
  const reason = err instanceof Error ? err.message : String(err);
  return new ClassifierError('corrupt_image', `The HEIC image could not be decoded (${reason}).`, { cause: err });
}
