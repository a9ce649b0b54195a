/**
 * Recognises the image formats the engine decodes from their first bytes: a folder walk skips
 * non-images without decoding them, and the decoder refuses everything else (SVG, PDF, ...)
 * before libvips picks a loader. Hand-written because it is six fixed signatures; the decoder
 * still checks every byte of the images that pass.
 */
export const SNIFF_BYTES = 16;

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif';

export function sniffImageFormat(head: Uint8Array): ImageFormat | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'tiff';
  if (ascii(4, 8) === 'ftyp' && /^(avif|avis|mif1|msf1|heic|heix)$/.test(ascii(8, 12))) return 'heif';
  return null;
}

export function looksLikeImage(head: Uint8Array): boolean {
  return sniffImageFormat(head) !== null;
}
