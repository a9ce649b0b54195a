/**
 * Recognises the image formats the engine decodes from a file's first bytes, so a folder walk can
 * skip non-images without decoding them. Hand-written because it is six fixed signatures; the
 * decoder still checks every byte of the images that pass.
 */
export const SNIFF_BYTES = 16;

export function looksLikeImage(head: Uint8Array): boolean {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return true; // JPEG
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return true;
  if (ascii(0, 4) === 'GIF8') return true;
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return true;
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return true; // TIFF
  if (ascii(4, 8) === 'ftyp' && /^(avif|avis|mif1|msf1|heic|heix)$/.test(ascii(8, 12))) return true; // AVIF/HEIF
  return false;
}
