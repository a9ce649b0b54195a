import sharp from 'sharp';
import exifr from 'exifr';
import { decodeHeic } from './heic.ts';
import { ClassifierError, emptyImageError } from '../errors.ts';
import type { ImageInfo } from './types.ts';
import { centerCropBox, resizedSize } from './resample.ts';
import { resizeAndCrop } from './resample-wasm.ts';
import { sniffImageFormat } from '../sources/sniff.ts';
import { tensorOf, type Layout } from './tensor.ts';
import { SETTINGS } from '../settings/table.ts';
import { readImageHeader, type ImageHeader } from './image-header.ts';
import { decodePlainJpeg } from './jpeg-native.ts';
import { shrinkOptionsOf, shrinkTarget, uprightSize } from './shrink-on-load.ts';

export interface PreprocessOptions {
  /** Crop size the model takes (224 for every catalogue model). */
  size: number;
  /** Shorter side before the crop (256 for a 224 crop, as in torchvision's ImageNet recipe). */
  resizeShortSide: number;
  layout: Layout;
  /** Images with more pixels than this are refused before decoding (decompression bombs). */
  maxPixels: number;
  /**
   * Let the JPEG/WebP decoder shrink large photos while decoding, then resample exactly from there
   * (RESIZE auto/fast; false is RESIZE=exact: every pixel decoded, bit-exact with the reference).
   */
  shrinkOnLoad: boolean;
  /** With shrinkOnLoad: the short side after decoding, in multiples of resizeShortSide (shrink-on-load.ts). */
  shrinkMargin: number;
  /** Plain JPEGs straight through libjpeg-turbo when the addon is built (JPEG_DECODER=auto; jpeg-native.ts). */
  directJpeg: boolean;
}

/**
 * The reference's way (every pixel decoded) unless the RESIZE default says otherwise; the engine
 * passes the RESIZE setting it was given.
 */
export const DEFAULT_PREPROCESS_OPTIONS: PreprocessOptions = {
  size: 224,
  resizeShortSide: 256,
  layout: 'NCHW',
  maxPixels: SETTINGS.maxPixels.default,
  ...shrinkOptionsOf(SETTINGS.resize.default),
  directJpeg: SETTINGS.jpegDecoder.default === 'auto',
};

/** The decoded, resized and cropped image: packed 8-bit RGB, size x size (4x smaller than its tensor). */
export interface PreparedPixels {
  pixels: Uint8Array;
  image: ImageInfo;
  decode_ms: number;
  /** The size the decoder handed over: the photo's (upright), or smaller when it shrank while decoding. */
  decoded: { width: number; height: number };
}

export interface PreprocessedImage {
  tensor: Float32Array;
  image: ImageInfo;
  decode_ms: number;
}

function decodeError(err: unknown): ClassifierError {
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format|bad seek|not a known file format/i.test(message)) {
    return new ClassifierError(
      'not_an_image',
      'The data is not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIC).',
    );
  }
  if (/empty/i.test(message)) return emptyImageError();
  if (/pixel limit/i.test(message)) return tooManyPixels();
  return new ClassifierError(
    'corrupt_image',
    `The image could not be decoded; it looks truncated or corrupt (${message.split('\n')[0].trim()}).`,
  );
}

function tooManyPixels(width?: number, height?: number, maxPixels?: number): ClassifierError {
  const size = width && height ? ` (${width}x${height})` : '';
  const limit = maxPixels ? ` than the limit of ${maxPixels.toLocaleString('en-US')} pixels` : ' than the pixel limit';
  return new ClassifierError('image_too_many_pixels', `The image has more pixels${size}${limit}.`);
}

/** "2019:05:03 10:22:01" -> "2019-05-03T10:22:01" (camera-local time; EXIF rarely carries a zone). */
function exifTimeToIso(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(value.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : null;
}

/**
 * False only when the bytes are a JPEG that certainly has no EXIF block: its segments up to the
 * image data hold no APP1 "Exif". Most web and ImageNet pictures have none, and asking exifr costs
 * ~0.15 ms of CPU per image even then; anything else, malformed JPEGs included, goes to exifr.
 */
export function mayHaveExif(bytes: Buffer, format: string): boolean {
  if (format !== 'jpeg') return true;
  let at = 2; // after the start-of-image marker
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return true;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return false; // image data or end: no metadata after this
    if (marker === 0xe1 && bytes.toString('latin1', at + 4, at + 8) === 'Exif') return true;
    at += 2 + bytes.readUInt16BE(at + 2);
  }
  return true;
}

/**
 * A GPS coordinate in degrees, rounded to 6 decimals (about 0.1 m, finer than any camera's GPS) so
 * every output states the same figure; null when missing or out of range (broken EXIF).
 */
function coordinateOf(value: unknown, limit: number): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > limit) return null;
  return Math.round(value * 1e6) / 1e6;
}

async function captureMetadata(
  bytes: Buffer,
  format: string,
): Promise<Pick<ImageInfo, 'taken_at' | 'latitude' | 'longitude'>> {
  if (!mayHaveExif(bytes, format)) return { taken_at: null, latitude: null, longitude: null };
  try {
    const exif = await exifr.parse(bytes, {
      tiff: true,
      exif: true,
      gps: true,
      reviveValues: false,
      pick: ['DateTimeOriginal', 'CreateDate', 'GPSLatitude', 'GPSLatitudeRef', 'GPSLongitude', 'GPSLongitudeRef'],
    });
    if (!exif) return { taken_at: null, latitude: null, longitude: null };
    return {
      taken_at: exifTimeToIso(exif.DateTimeOriginal ?? exif.CreateDate),
      latitude: coordinateOf(exif.latitude, 90),
      longitude: coordinateOf(exif.longitude, 180),
    };
  } catch {
    // Broken EXIF must not fail an otherwise good photo.
    return { taken_at: null, latitude: null, longitude: null };
  }
}

/** Why bytes that are no image we decode were refused: an image of another kind, or no image at all. */
async function refusalOf(bytes: Buffer): Promise<ClassifierError> {
  const format = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .then(
      (m) => m.format,
      () => null,
    );
  if (!format) return decodeError(new Error('unsupported image format'));
  return new ClassifierError(
    'unsupported_format',
    `Images in ${format} format are not supported; send JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIC.`,
  );
}

/** A decoding failure as the user should hear it; a pixel-limit refusal names the image's size. */
async function decodeFailureOf(err: unknown, bytes: Buffer, maxPixels: number): Promise<ClassifierError> {
  if (!/pixel limit/i.test(err instanceof Error ? err.message : String(err))) return decodeError(err);
  const meta = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch(() => null);
  return tooManyPixels(meta?.width, meta?.pageHeight ?? meta?.height, maxPixels);
}

/** HEIC decoded by libheif (upright already), handed to sharp as raw pixels for the same steps as any other image. */
async function heicPipeline(bytes: Buffer, maxPixels: number): Promise<sharp.Sharp> {
  const { data, width, height } = await decodeHeic(bytes, maxPixels, (w, h) => tooManyPixels(w, h, maxPixels));
  return sharp(data, { raw: { width, height, channels: 4 }, limitInputPixels: maxPixels });
}

/**
 * A JPEG that libjpeg-turbo alone decodes to what sharp would give: no EXIF rotation to apply and no
 * colour profile to convert (jpeg-native.ts checks the rest: 8-bit YCbCr, RGB or grey, no warnings).
 */
function isPlainJpeg(format: string, header: ImageHeader | null | undefined): boolean {
  return format === 'jpeg' && !!header && header.orientation === 1 && header.profile !== 'other';
}

/** Decoded by sharp: upright, flattened onto white, sRGB, 8-bit RGB; shrunk while decoding to `target` when given. */
async function decodeWithSharp(
  bytes: Buffer,
  format: string,
  header: ImageHeader | null | undefined,
  target: { width: number; height: number } | null,
  maxPixels: number,
): Promise<{ data: Uint8Array; info: { width: number; height: number } }> {
  // Pixels are read as sRGB values, as the reference (Pillow) reads them, unless the image says it is
  // in another colour space (a phone's Display P3, Adobe RGB): then libvips converts it to sRGB.
  // (HEIC comes from libheif as bare pixels, so its profile is not applied.)
  const ignoreIcc = header?.profile !== 'other';
  let pipeline =
    format === 'heic'
      ? await heicPipeline(bytes, maxPixels)
      : sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', ignoreIcc }).rotate();
  if (target) {
    // sharp's linear kernel takes it from the decoder's 1/2, 1/4 or 1/8 to the target; the exact
    // resize does the rest (fastShrinkOnLoad: the largest factor the decoder allows).
    pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
  }
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await pipeline
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw await decodeFailureOf(err, bytes, maxPixels);
  }
  const { data, info } = decoded;
  if (info.channels !== 3)
    throw new ClassifierError('corrupt_image', `The image decoded to ${info.channels} channels instead of RGB.`);
  return { data, info };
}

/**
 * Decode image bytes, resize and crop them exactly as torchvision's Resize + CenterCrop do. The
 * engine normalizes these pixels into the batch tensor on the inference thread, so only the small
 * 8-bit crop travels between threads.
 */
export async function preparePixels(
  bytes: Buffer,
  options: PreprocessOptions = DEFAULT_PREPROCESS_OPTIONS,
  /** The header when the caller has read it already (the decoder pool has, for the pixel budget). */
  known?: ImageHeader | null,
): Promise<PreparedPixels> {
  const started = performance.now();
  if (bytes.length === 0) throw emptyImageError();
  const format = sniffImageFormat(bytes);
  if (!format) throw await refusalOf(bytes);
  const header = known === undefined ? await readImageHeader(bytes) : known;

  const upright = header ? uprightSize(header.width, header.height, header.orientation) : null;
  const target = upright ? shrinkTarget(upright, format, options) : null;
  const plain =
    options.directJpeg && !target && isPlainJpeg(format, header) ? decodePlainJpeg(bytes, options.maxPixels) : null;
  const { data, info } = plain
    ? { data: plain.data, info: { width: plain.width, height: plain.height } }
    : await decodeWithSharp(bytes, format, header, target, options.maxPixels);
  const shrunkFrom = target ? upright : null;

  const resized = resizedSize(info.width, info.height, options.resizeShortSide);
  const crop = centerCropBox(resized.width, resized.height, options.size);
  const pixels = resizeAndCrop({ data, width: info.width, height: info.height }, resized.width, resized.height, crop);
  const capture = await captureMetadata(bytes, format);
  return {
    pixels,
    image: {
      ...(shrunkFrom ?? { width: info.width, height: info.height }),
      format,
      ...capture,
    },
    decode_ms: performance.now() - started,
    decoded: { width: info.width, height: info.height },
  };
}

/** A picture already decoded to packed RGB (a video frame from ffmpeg). */
export interface RawRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * The same resize and centre crop as preparePixels, for pixels that are decoded already: video
 * frames go through the photos' preprocessing from here on, so a frame and the same picture as a
 * photo give the same model input.
 */
export function prepareRawPixels(
  raw: RawRgb,
  image: ImageInfo,
  options: PreprocessOptions = DEFAULT_PREPROCESS_OPTIONS,
): PreparedPixels {
  const started = performance.now();
  if (raw.width * raw.height > options.maxPixels) throw tooManyPixels(raw.width, raw.height, options.maxPixels);
  if (raw.data.length !== raw.width * raw.height * 3)
    throw new ClassifierError(
      'corrupt_image',
      `The frame holds ${raw.data.length} bytes, not ${raw.width}x${raw.height} RGB.`,
    );
  const resized = resizedSize(raw.width, raw.height, options.resizeShortSide);
  const crop = centerCropBox(resized.width, resized.height, options.size);
  const pixels = resizeAndCrop(raw, resized.width, resized.height, crop);
  const decoded = { width: raw.width, height: raw.height };
  return { pixels, image, decoded, decode_ms: performance.now() - started };
}

/** Decode image bytes and prepare the model input exactly as torchvision's ImageNet transforms do. */
export async function preprocessImage(
  bytes: Buffer,
  options: PreprocessOptions = DEFAULT_PREPROCESS_OPTIONS,
): Promise<PreprocessedImage> {
  const { pixels, image, decode_ms } = await preparePixels(bytes, options);
  return { tensor: tensorOf(pixels, options.size, options.layout), image, decode_ms };
}
