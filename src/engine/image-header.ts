/** What an image's header says before any pixel is decoded: its size and its colour profile. */
import sharp from 'sharp';

export interface ImageHeader {
  width: number;
  /** One page's height (the first page is what gets decoded). */
  height: number;
  /** EXIF orientation, 1 when absent. */
  orientation: number;
  /**
   * The embedded ICC profile: none, an sRGB one (pixels are already what the models expect), or
   * another (Display P3, Adobe RGB, ...: pixels must be converted to sRGB).
   */
  profile: 'none' | 'srgb' | 'other';
  /** The profile's description, e.g. "Display P3"; null without one or when it cannot be read. */
  profileName: string | null;
}

/** The header, or null when sharp cannot read one (not an image, or broken: decoding says which). */
export async function readImageHeader(bytes: Buffer): Promise<ImageHeader | null> {
  let meta: sharp.Metadata;
  try {
    // Inside the try: sharp refuses some inputs (an empty buffer) as it is called, not in its promise.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    return null;
  }
  if (!meta.width || !meta.height) return null;
  const profileName = meta.icc ? iccDescription(meta.icc) : null;
  return {
    width: meta.width,
    height: meta.pageHeight ?? meta.height,
    orientation: meta.orientation ?? 1,
    profile: !meta.icc ? 'none' : isSrgbProfile(meta.icc, profileName) ? 'srgb' : 'other',
    profileName,
  };
}

/**
 * sRGB by its description ("sRGB IEC61966-2.1", "sRGB built-in", "sRGB v4 ICC preference", ...),
 * the way every camera, phone and editor names it. A profile whose description cannot be read
 * counts as sRGB too: the reference pipeline (Pillow) ignores profiles, so leaving the pixels as they
 * are is the safe side.
 */
function isSrgbProfile(icc: Buffer, name: string | null): boolean {
  if (icc.length < 20 || icc.toString('latin1', 16, 20) !== 'RGB ') return true; // grey, CMYK: as before
  return name === null || /srgb/i.test(name);
}

/** The 'desc' tag of an ICC profile: v2 textDescriptionType (ASCII) or v4 multiLocalizedUnicode (UTF-16BE). */
export function iccDescription(icc: Buffer): string | null {
  if (icc.length < 132) return null;
  const tags = icc.readUInt32BE(128);
  for (let i = 0; i < tags && 132 + i * 12 + 12 <= icc.length; i++) {
    const at = 132 + i * 12;
    if (icc.toString('latin1', at, at + 4) !== 'desc') continue;
    const offset = icc.readUInt32BE(at + 4);
    const size = icc.readUInt32BE(at + 8);
    if (offset + Math.min(size, 28) > icc.length || size < 12) return null;
    const type = icc.toString('latin1', offset, offset + 4);
    if (type === 'desc') {
      const length = icc.readUInt32BE(offset + 8);
      const end = Math.min(offset + 12 + length, offset + size, icc.length);
      return icc.toString('latin1', offset + 12, end).replace(/\0+$/, '');
    }
    if (type === 'mluc' && size >= 28) {
      const length = icc.readUInt32BE(offset + 20);
      const start = offset + icc.readUInt32BE(offset + 24);
      if (start + length > icc.length) return null;
      return Buffer.from(icc.subarray(start, start + length))
        .swap16()
        .toString('utf16le');
    }
    return null;
  }
  return null;
}
