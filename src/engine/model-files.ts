import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fetch } from 'undici';
import { ClassifierError } from '../errors.ts';
import { defaultModelCacheDir } from '../settings/load.ts';
import { CATALOGUE, DEFAULT_MODEL_ID, type CatalogueEntry } from './catalogue.ts';
import { cpuFlags } from './cpu-features.ts';
import { defaultModelChoice } from './default-model.ts';

/** Where a model file comes from; `entry` is null for a user's own MODEL_PATH file. */
export interface ModelLocation {
  id: string;
  path: string;
  entry: CatalogueEntry | null;
  /** Why this model, when the engine chose it because the user named none. */
  choice: string | null;
}

export type DownloadProgress = (receivedBytes: number, totalBytes: number) => void;

export interface ResolveModelOptions {
  modelPath?: string | null;
  modelId?: string | null;
  /** The CPU's flags for choosing the default model; this machine's when absent. */
  cpuFlags?: ReadonlySet<string>;
  cacheDir?: string;
  /** Default true. */
  download?: boolean;
  onProgress?: DownloadProgress;
  fetchTimeoutMs?: number;
  /** Fetch from here instead of the catalogue URL (tests). */
  urlOverride?: string;
  /** Look ids up here instead of CATALOGUE (tests, or a deployment with its own mirror list). */
  catalogue?: readonly CatalogueEntry[];
}

export interface DownloadOptions {
  onProgress?: DownloadProgress;
  urlOverride?: string;
  /**
   * Abort when no data arrives for this long. An inactivity limit rather than a total one,
   * because 100 MB on a slow link legitimately takes many minutes.
   */
  timeoutMs?: number;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 60_000;

/**
 * A download that is alive writes its .part file continuously (and gives up after the fetch
 * timeout), so a .part file untouched for this long belongs to a killed process. Age rather than
 * the pid in the name, because a cache dir shared between containers sees other pid namespaces.
 */
export const STALE_PART_MS = 24 * 60 * 60 * 1000;

/** Removes the .part files of killed downloads in `cacheDir`; returns the names removed. */
export async function removeStalePartFiles(cacheDir: string, now = Date.now()): Promise<string[]> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.endsWith('.part')) continue;
    const file = path.join(cacheDir, name);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile() || now - info.mtimeMs < STALE_PART_MS) continue;
    await rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}

export function cachedModelPath(entry: CatalogueEntry, cacheDir: string): string {
  return path.join(cacheDir, `${entry.id}.onnx`);
}

/** Size only: the hash was verified before the file was renamed into place, and re-hashing 100 MB on every start is slow. */
export async function isCachedModelValid(entry: CatalogueEntry, cacheDir: string): Promise<boolean> {
  const info = await stat(cachedModelPath(entry, cacheDir)).catch(() => null);
  return info?.isFile() === true && info.size === entry.bytes;
}

export async function sha256File(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function resolveModel(options: ResolveModelOptions): Promise<ModelLocation> {
  // Empty strings count as unset so that `MODEL_PATH=` in an env file does not mean "the cwd".
  if (options.modelPath) return resolveUserModel(options.modelPath);

  const catalogue = options.catalogue ?? CATALOGUE;
  const chosen = options.modelId ? null : defaultModelChoice(options.cpuFlags ?? cpuFlags());
  const id = options.modelId || (chosen?.id ?? DEFAULT_MODEL_ID);
  const choice = chosen ? `${id}, because ${chosen.reason}` : null;
  const entry = catalogue.find((candidate) => candidate.id === id);
  if (!entry) {
    const known = catalogue.map((candidate) => candidate.id).join(', ');
    throw new ClassifierError('unknown_model', `Unknown model '${id}'. Known models: ${known}.`);
  }

  const cacheDir = options.cacheDir ?? defaultModelCacheDir();
  const finalPath = cachedModelPath(entry, cacheDir);
  if (await isCachedModelValid(entry, cacheDir)) return { id, path: finalPath, entry, choice };

  if (options.download === false) {
    const url = options.urlOverride ?? entry.url;
    throw new ClassifierError(
      'model_not_available',
      `Model ${id} is not in the model cache and downloading is turned off. ` +
        `Download it yourself from ${url} (${entry.bytes} bytes, sha256 ${entry.sha256}) and place it at ${finalPath}, ` +
        'or set MODEL_PATH to a local ImageNet ONNX classifier.',
    );
  }

  const downloaded = await downloadModel(entry, cacheDir, {
    onProgress: options.onProgress,
    urlOverride: options.urlOverride,
    timeoutMs: options.fetchTimeoutMs,
  });
  return { id, path: downloaded, entry, choice };
}

async function resolveUserModel(modelPath: string): Promise<ModelLocation> {
  // Absolute, so workers started from another directory open the same file.
  const absolute = path.resolve(modelPath);
  const info = await stat(absolute).catch(() => null);
  if (!info?.isFile()) {
    throw new ClassifierError(
      'model_not_found',
      `No model file at ${modelPath}. Set MODEL_PATH (or --model-path) to an ImageNet ONNX classifier file.`,
    );
  }
  return { id: path.basename(absolute, '.onnx'), path: absolute, entry: null, choice: null };
}

/**
 * Downloads into a uniquely named .part file and renames it into place only after size and
 * sha256 match, so the final path only ever holds a verified file and two processes
 * downloading at once just replace one good file with another.
 */
export async function downloadModel(
  entry: CatalogueEntry,
  cacheDir: string,
  options: DownloadOptions = {},
): Promise<string> {
  const url = options.urlOverride ?? entry.url;
  const finalPath = cachedModelPath(entry, cacheDir);
  const partPath = `${finalPath}.${process.pid}.${randomBytes(6).toString('hex')}.part`;
  try {
    await mkdir(cacheDir, { recursive: true });
    await removeStalePartFiles(cacheDir);
    await fetchToFile(url, partPath, entry, options);
    await renameIntoPlace(partPath, finalPath, entry, cacheDir);
    return finalPath;
  } catch (err) {
    await rm(partPath, { force: true }).catch(() => {});
    throw downloadFailure(entry, url, finalPath, err);
  }
}

async function renameIntoPlace(
  partPath: string,
  finalPath: string,
  entry: CatalogueEntry,
  cacheDir: string,
): Promise<void> {
  try {
    await rename(partPath, finalPath);
  } catch (err) {
    // Windows refuses to replace a file another process has open; if that process put a
    // verified copy there, ours is redundant.
    if (!(await isCachedModelValid(entry, cacheDir))) throw err;
  }
}

async function fetchToFile(
  url: string,
  partPath: string,
  entry: CatalogueEntry,
  options: DownloadOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const file = await open(partPath, 'wx');
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const restartStallTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(problem(`no data received for ${timeoutMs} ms`, true)), timeoutMs);
  };
  restartStallTimer();
  try {
    // The URL is the operator's configured catalogue (GitHub raw -> LFS host), not user input, so following redirects is fine.
    const response = await fetch(url, { redirect: 'follow', signal: controller.signal });
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      const transient = response.status >= 500 || response.status === 408 || response.status === 429;
      throw problem(`HTTP ${response.status} ${response.statusText}`.trim(), transient);
    }
    if (!response.body) throw problem('the response had no body', true);

    const hash = createHash('sha256');
    let received = 0;
    options.onProgress?.(0, entry.bytes);
    for await (const chunk of response.body) {
      restartStallTimer();
      received += chunk.byteLength;
      // Stop early instead of filling the disk when the server sends something unexpected.
      if (received > entry.bytes) throw problem(`the server sent more than the expected ${entry.bytes} bytes`, false);
      hash.update(chunk);
      await file.write(chunk);
      options.onProgress?.(received, entry.bytes);
    }
    if (received !== entry.bytes) throw problem(`received ${received} bytes, expected ${entry.bytes}`, true);
    const digest = hash.digest('hex');
    if (digest !== entry.sha256) throw problem(`sha256 is ${digest}, expected ${entry.sha256}`, false);
    // On disk before the rename, so a crash cannot leave a right-sized file of zeros at the final path.
    await file.sync();
  } catch (err) {
    // After our own abort, fetch surfaces an AbortError or a stream error; the reason says more.
    throw controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    clearTimeout(timer);
    await file.close();
  }
}

function problem(message: string, retryable: boolean): Error {
  return Object.assign(new Error(message), { retryable });
}

function downloadFailure(entry: CatalogueEntry, url: string, finalPath: string, err: unknown): ClassifierError {
  return new ClassifierError(
    'model_download_failed',
    `Could not download model ${entry.id} from ${url}: ${describe(err)}. ` +
      `Download it yourself (${entry.bytes} bytes, sha256 ${entry.sha256}) and place it at ${finalPath}, ` +
      'or set MODEL_PATH to a local ImageNet ONNX classifier.',
    { variant: isRetryable(err) ? undefined : 'permanent', cause: err },
  );
}

// undici reports network failures as "fetch failed" / "terminated" with the useful part in `cause`.
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message;
}

function isRetryable(err: unknown): boolean {
  if (err instanceof Error && 'retryable' in err) return Boolean(err.retryable);
  // Local filesystem errors (EACCES, ENOSPC) carry `syscall` and will not fix themselves;
  // anything else here is undici's network failure, which may.
  return !(err instanceof Error && 'syscall' in err);
}
