/**
 * Reading an image from disk. The CLI reads any path it is given; the HTTP service passes
 * `root` so a request can only name files inside its image folder.
 */
import { constants } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ClassifierError } from '../errors.ts';

export interface FileReadOptions {
  maxBytes: number;
  /** When set, `path` is taken relative to this folder and may not leave it, not even through symlinks. */
  root?: string | null;
}

// O_NONBLOCK keeps open() from hanging on a FIFO swapped in after the stat check.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

export async function readImageFile(filePath: string, options: FileReadOptions): Promise<Buffer> {
  if (filePath.includes('\0')) {
    throw new ClassifierError('invalid_path', 'The image path contains a NUL character.');
  }
  // Messages name `filePath` as given, so the service never reveals where its root lives on disk.
  const target = options.root ? await resolveInsideRoot(filePath, options.root) : filePath;
  const stats = await stat(target).catch((err) => {
    throw fileError(err, filePath);
  });
  checkIsSmallFile(stats, filePath, options.maxBytes);

  const handle = await open(target, OPEN_FLAGS).catch((err) => {
    throw fileError(err, filePath);
  });
  try {
    // The file may have been replaced since stat; judge what was actually opened.
    const opened = await handle.stat();
    checkIsSmallFile(opened, filePath, options.maxBytes);
    return await readCapped(handle, filePath, options.maxBytes, opened.size);
  } catch (err) {
    throw fileError(err, filePath);
  } finally {
    await handle.close();
  }
}

export interface LocalFilePolicy {
  /** false: local paths are refused (the service without IMAGE_ROOT). */
  allowFiles: boolean;
  /** Paths are confined to this folder when set, as for images. */
  root?: string | null;
}

/**
 * A local video file under the same rules as an image file (IMAGE_ROOT confinement, regular files
 * only), as the absolute path ffmpeg is to open. Videos are not read into memory, so there is no
 * byte limit here; their limits are length and frames (MAX_VIDEO_SECONDS, MAX_VIDEO_FRAMES).
 */
export async function resolveVideoFile(filePath: string, policy: LocalFilePolicy): Promise<string> {
  if (!policy.allowFiles)
    throw new ClassifierError(
      'files_not_allowed',
      'Local file paths are not accepted here; send the video itself or an http(s) URL.',
    );
  if (filePath.includes('\0')) throw new ClassifierError('invalid_path', 'The video path contains a NUL character.');
  const target = policy.root ? await resolveInsideRoot(filePath, policy.root) : path.resolve(filePath);
  const stats = await stat(target).catch((err) => {
    throw fileError(err, filePath);
  });
  if (stats.isDirectory()) throw directoryError(filePath);
  if (!stats.isFile()) throw new ClassifierError('not_a_file', `The video path ${filePath} is not a regular file.`);
  return target;
}

/** Returns the real path of the target, refusing anything whose real location is outside root. */
async function resolveInsideRoot(filePath: string, root: string): Promise<string> {
  const rootPath = path.resolve(root);
  const lexical = path.resolve(rootPath, filePath);
  if (!isInside(lexical, rootPath)) throw pathNotAllowed(filePath);

  const realRoot = await realpath(rootPath).catch((err) => {
    throw new ClassifierError('file_unreadable', 'The image folder is not accessible.', { cause: err });
  });
  const realTarget = await realpath(lexical).catch((err) => {
    throw fileError(err, filePath);
  });
  // Symlinks inside root may point anywhere; only the fully resolved location counts.
  if (!isInside(realTarget, realRoot)) throw pathNotAllowed(filePath);
  return realTarget;
}

function isInside(candidate: string, folder: string): boolean {
  return candidate === folder || candidate.startsWith(folder.endsWith(path.sep) ? folder : folder + path.sep);
}

function checkIsSmallFile(
  stats: { isFile(): boolean; isDirectory(): boolean; size: number },
  filePath: string,
  maxBytes: number,
): void {
  if (stats.isDirectory()) throw directoryError(filePath);
  if (!stats.isFile()) throw new ClassifierError('not_a_file', `The image path ${filePath} is not a regular file.`);
  if (stats.size > maxBytes) throw tooLarge(filePath, maxBytes);
}

/** Stops at maxBytes even if the file grows while being read, or stat under-reports (procfs). */
async function readCapped(
  handle: FileHandle,
  filePath: string,
  maxBytes: number,
  expectedSize: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  // Sized from stat so the usual case is one read, without allocating maxBytes for a small file.
  const chunkSize = Math.min(Math.max(expectedSize, 64 * 1024), maxBytes) + 1;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(chunkSize, maxBytes + 1 - total));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(filePath, maxBytes);
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(filePath: string, maxBytes: number): ClassifierError {
  return new ClassifierError(
    'image_too_large_bytes',
    `The image file ${filePath} is larger than the ${maxBytes}-byte limit.`,
  );
}

function directoryError(filePath: string, cause?: unknown): ClassifierError {
  return new ClassifierError('not_a_file', `The image path ${filePath} is a directory, not a file.`, { cause });
}

function pathNotAllowed(filePath: string): ClassifierError {
  return new ClassifierError('path_not_allowed', `The image path ${filePath} is outside the image folder.`);
}

function fileError(err: unknown, filePath: string): ClassifierError {
  if (err instanceof ClassifierError) return err;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new ClassifierError('file_not_found', `The image file ${filePath} does not exist.`, { cause: err });
    case 'EISDIR':
      return directoryError(filePath, err);
    case 'EACCES':
    case 'EPERM':
      return new ClassifierError('file_unreadable', `The image file ${filePath} cannot be read (permission denied).`, {
        variant: 'permission_denied',
        cause: err,
      });
    case 'ELOOP':
      return new ClassifierError(
        'file_unreadable',
        `The image path ${filePath} has too many levels of symbolic links.`,
        { variant: 'symlink_loop', cause: err },
      );
    default: {
      const reason = err instanceof Error ? err.message : String(err);
      return new ClassifierError('file_unreadable', `The image file ${filePath} could not be read: ${reason}`, {
        cause: err,
      });
    }
  }
}
