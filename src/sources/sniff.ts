/**
 * Recognises the image formats the engine decodes, and the video containers ffmpeg reads, from
 * their first bytes: a folder walk skips everything else without decoding it, and the decoder
 * refuses everything else (SVG, PDF, ...) before libvips picks a loader. Hand-written because it
 * is a few fixed signatures and a brand list; the decoders still check every byte of what passes.
 */
export const SNIFF_BYTES = 64;

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heic';

const AVIF_BRANDS = new Set(['avif', 'avis']);
/** HEVC-coded HEIF, as iPhones (and many Android phones) write it. */
const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx']);
/** Brands that say "HEIF container" without saying which codec; the compatible brands tell. */
const GENERIC_HEIF_BRANDS = new Set(['mif1', 'msf1', 'miaf']);

/** An ISO-BMFF `ftyp` box's major and compatible brands (as far as `head` holds them). */
function ftypBrands(head: Uint8Array, ascii: (from: number, to: number) => string): string[] {
  const boxSize = (head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3];
  const end = Math.min(boxSize, head.length);
  const brands = [ascii(8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(ascii(at, at + 4));
  return brands;
}

function heifFormatOf(brands: string[]): ImageFormat | null {
  const [major] = brands;
  if (AVIF_BRANDS.has(major)) return 'avif';
  if (HEIC_BRANDS.has(major)) return 'heic';
  if (!GENERIC_HEIF_BRANDS.has(major)) return null;
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return 'avif';
  if (brands.some((brand) => HEIC_BRANDS.has(brand))) return 'heic';
  return null;
}

export function sniffImageFormat(head: Uint8Array): ImageFormat | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'tiff';
  if (head.length >= 12 && ascii(4, 8) === 'ftyp') return heifFormatOf(ftypBrands(head, ascii));
  return null;
}

export function looksLikeImage(head: Uint8Array): boolean {
  return sniffImageFormat(head) !== null;
}

export type VideoFormat = 'mp4' | 'mov' | 'matroska' | 'webm' | 'avi' | 'flv';

/** QuickTime files may start with one of these atoms instead of `ftyp` (older cameras). */
const QUICKTIME_ATOMS = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);

/**
 * The video container the bytes start with, else null. An ISO-BMFF file is a video unless its
 * brands say HEIF/AVIF image (those stay images, as before); audio-only MP4s (M4A) pass here and
 * are refused once ffprobe finds no picture in them.
 */
export function sniffVideoFormat(head: Uint8Array): VideoFormat | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brands = ftypBrands(head, ascii);
    if (heifFormatOf(brands) !== null || GENERIC_HEIF_BRANDS.has(brands[0])) return null;
    return brands[0] === 'qt  ' ? 'mov' : 'mp4';
  }
  if (head.length >= 8 && QUICKTIME_ATOMS.has(ascii(4, 8))) return 'mov';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    // The EBML header names its DocType within the first few dozen bytes.
    return ascii(4, head.length).includes('webm') ? 'webm' : 'matroska';
  }
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return 'avi';
  if (ascii(0, 3) === 'FLV' && head[3] === 0x01) return 'flv';
  return null;
}

export function looksLikeVideo(head: Uint8Array): boolean {
  return sniffVideoFormat(head) !== null;
}

/** What a file is by its bytes: an image, a video, or neither. */
export function sniffMediaKind(head: Uint8Array): 'image' | 'video' | null {
  if (looksLikeImage(head)) return 'image';
  return looksLikeVideo(head) ? 'video' : null;
}
