import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { isHttpUrl } from '../sources/input.ts';
import { SNIFF_BYTES, looksLikeImage } from '../sources/sniff.ts';

export interface CollectedImages {
  /** Paths and URLs in a stable order (folders sorted), each once. */
  images: string[];
  /** Files seen in folders or globs that are not images. */
  skipped: number;
  /** Arguments that matched nothing. */
  missing: string[];
}

async function isImageFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return false;
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return looksLikeImage(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}

/**
 * Expand the command line's files, folders (recursively), globs and URLs into images.
 * Folder and glob contents are sniffed by their bytes; files named explicitly are always
 * attempted, so a bad one gets its own error row rather than vanishing.
 */
export async function collectImages(args: string[]): Promise<CollectedImages> {
  const images: string[] = [];
  const seen = new Set<string>();
  const missing: string[] = [];
  let skipped = 0;
  const add = (item: string) => {
    const key = isHttpUrl(item) ? item : path.resolve(item);
    if (!seen.has(key)) {
      seen.add(key);
      images.push(item);
    }
  };
  const addSniffed = async (files: string[]) => {
    for (const file of files) {
      if (await isImageFile(file)) add(file);
      else skipped++;
    }
  };

  for (const arg of args) {
    if (isHttpUrl(arg)) {
      add(arg);
      continue;
    }
    const info = await stat(arg).catch(() => null);
    if (info?.isDirectory()) await addSniffed(await filesUnder(arg));
    else if (info) add(arg);
    else if (fg.isDynamicPattern(arg)) {
      const matches = (await fg(arg, { onlyFiles: true, dot: false })).sort();
      if (matches.length === 0) missing.push(arg);
      await addSniffed(matches);
    } else missing.push(arg);
  }
  return { images, skipped, missing };
}
