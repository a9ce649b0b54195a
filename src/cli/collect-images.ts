import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { isHttpUrl } from '../sources/input.ts';
import { SNIFF_BYTES, sniffMediaKind } from '../sources/sniff.ts';

export interface CollectedImages {
  /** Paths and URLs in a stable order (folders sorted), each once: photos and videos. */
  images: string[];
  /** Those of them that are videos by their bytes (they give one row per sampled frame). */
  videos: Set<string>;
  /** Files seen in folders or globs that are neither images nor videos. */
  skipped: number;
  /** Arguments that matched nothing. */
  missing: string[];
}

async function mediaKindOf(file: string): Promise<'image' | 'video' | null> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return null;
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return sniffMediaKind(head.subarray(0, bytesRead));
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
 * Expand the command line's files, folders (recursively), globs and URLs into images and videos.
 * Folder and glob contents are sniffed by their bytes; files named explicitly are always
 * attempted (as a video when their bytes say so, else as an image), so a bad one gets its own
 * error row rather than vanishing.
 */
export async function collectImages(args: string[]): Promise<CollectedImages> {
  const images: string[] = [];
  const videos = new Set<string>();
  const seen = new Set<string>();
  const missing: string[] = [];
  let skipped = 0;
  const add = (item: string, kind: 'image' | 'video' | null) => {
    const key = isHttpUrl(item) ? item : path.resolve(item);
    if (!seen.has(key)) {
      seen.add(key);
      images.push(item);
      if (kind === 'video') videos.add(item);
    }
  };
  const addSniffed = async (files: string[]) => {
    for (const file of files) {
      const kind = await mediaKindOf(file);
      if (kind) add(file, kind);
      else skipped++;
    }
  };

  for (const arg of args) {
    if (isHttpUrl(arg)) {
      add(arg, 'image');
      continue;
    }
    const info = await stat(arg).catch(() => null);
    if (info?.isDirectory()) await addSniffed(await filesUnder(arg));
    else if (info) add(arg, await mediaKindOf(arg));
    else if (fg.isDynamicPattern(arg)) {
      const matches = (await fg(arg, { onlyFiles: true, dot: false })).sort();
      if (matches.length === 0) missing.push(arg);
      await addSniffed(matches);
    } else missing.push(arg);
  }
  return { images, videos, skipped, missing };
}
