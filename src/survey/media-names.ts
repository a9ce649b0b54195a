/**
 * Names of survey media that did not come from a survey folder (an HTTP job's uploads, URLs and
 * paths): the format a name suggests, and a filePath that Camtrap DP accepts.
 */

const FORMAT_BY_EXTENSION: Record<string, string> = {
  jpg: 'jpeg',
  jpeg: 'jpeg',
  png: 'png',
  gif: 'gif',
  webp: 'webp',
  tif: 'tiff',
  tiff: 'tiff',
  avif: 'avif',
  heic: 'heic',
};

/** 'jpeg' for 'IMG_1.JPG'; null when the name says nothing (the sniffed format is used first anyway). */
export function formatOfName(name: string): string | null {
  const match = /\.([a-z0-9]+)$/i.exec(name);
  return match ? (FORMAT_BY_EXTENSION[match[1].toLowerCase()] ?? null) : null;
}

/**
 * A filePath Camtrap DP's pattern accepts (a URL, or a relative path not starting with '.', '/' or
 * '~' and without '..'): leading dots, slashes and tildes are dropped, '..' segments become '_'.
 */
export function packagePathOf(name: string): string {
  if (/^https?:\/\//i.test(name)) return name;
  const cleaned = name
    .replace(/\\/g, '/')
    .split('/')
    .map((part) => (part === '..' ? '_' : part.replace(/\.{2,}/g, '.')))
    .filter((part) => part !== '' && part !== '.')
    .join('/')
    .replace(/^[./~]+/, '');
  return cleaned || 'upload';
}
