/**
 * How much of a photo gets decoded (RESIZE). A JPEG decoder can shrink by 2, 4 or 8 while decoding
 * (DCT scaling) and a WebP decoder by any factor, which skips most of the work on a camera photo;
 * the exact Pillow-like resize then runs from the shrunk image. sharp has no "decode at 1/n" option:
 * it shrinks on load only inside a resize, so we ask it for an intermediate size and it picks the
 * decoder's factor and does the rest of the way with its own (linear) kernel.
 */
import type { ResizeMode } from '../settings/table.ts';

export interface Size {
  width: number;
  height: number;
}

/**
 * The short side after decoding, in multiples of the resize target (256 for a 224 crop). `fast`
 * is the opt-in that existed before RESIZE (2x); `auto` keeps twice as much for the exact resize
 * to work from. Chosen from bench/resize-agreement.ts (docs/preprocessing.md).
 */
export const SHRINK_MARGIN: Record<Exclude<ResizeMode, 'exact'>, number> = { fast: 2, auto: 3 };

/**
 * Below this intermediate-to-photo ratio sharp does not let libjpeg shrink at all (it keeps the
 * integer part of the factor away from the DCT factor, for libjpeg's rounding), so a shrink would
 * only add a resize and save nothing: the photo takes the exact path.
 */
const LEAST_FACTOR = 3;

/** The decoder-side options one RESIZE mode stands for. */
export function shrinkOptionsOf(mode: ResizeMode): { shrinkOnLoad: boolean; shrinkMargin: number } {
  return mode === 'exact'
    ? { shrinkOnLoad: false, shrinkMargin: SHRINK_MARGIN.auto }
    : { shrinkOnLoad: true, shrinkMargin: SHRINK_MARGIN[mode] };
}

/** The photo's size as it is shown (EXIF orientations 5-8 swap width and height). */
export function uprightSize(width: number, height: number, orientation: number): Size {
  return orientation >= 5 ? { width: height, height: width } : { width, height };
}

/**
 * The size to ask sharp for while decoding (short side = margin x target), or null when the photo
 * is decoded whole: shrinking is off, the format cannot shrink on load, or the photo is too small
 * for the decoder to skip anything.
 */
export function shrinkTarget(
  upright: Size,
  format: string,
  options: { shrinkOnLoad: boolean; shrinkMargin: number; resizeShortSide: number; maxPixels: number },
): Size | null {
  if (!options.shrinkOnLoad || (format !== 'jpeg' && format !== 'webp')) return null;
  if (upright.width * upright.height > options.maxPixels) return null; // refused when decoded anyway
  const short = Math.min(upright.width, upright.height);
  const target = options.shrinkMargin * options.resizeShortSide;
  if (short < target * LEAST_FACTOR) return null;
  return {
    width: Math.max(1, Math.round((upright.width * target) / short)),
    height: Math.max(1, Math.round((upright.height * target) / short)),
  };
}

/** The JPEG decoder's own factor (1, 2, 4, 8) for a resize from `short` to `target`, as sharp 0.34 picks it. */
export function jpegDecodeFactor(short: number, target: number): number {
  const shrink = short / target;
  let factor = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (factor > 1 && Math.floor(shrink) === factor) factor /= 2;
  return factor;
}

/**
 * Pixels the decoder produces, for the pixel budget: the whole photo, or for a shrink the JPEG
 * decoder's 1/2, 1/4 or 1/8 of it (sharp's own resize then streams it down to the intermediate
 * size), or a WebP decoder's output straight at the intermediate size.
 */
export function decodedPixels(
  width: number,
  height: number,
  orientation: number,
  format: string,
  options: { shrinkOnLoad: boolean; shrinkMargin: number; resizeShortSide: number; maxPixels: number },
): number {
  const upright = uprightSize(width, height, orientation);
  const shrunk = shrinkTarget(upright, format, options);
  if (!shrunk) return width * height;
  if (format !== 'jpeg') return shrunk.width * shrunk.height;
  const factor = jpegDecodeFactor(Math.min(upright.width, upright.height), Math.min(shrunk.width, shrunk.height));
  return Math.ceil(width / factor) * Math.ceil(height / factor);
}
