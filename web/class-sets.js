// The service's class sets (/class-sets) for the Teach panel: list, create, show, evaluate,
// delete, and upload labelled photos in chunks with progress. No DOM here: teach.js renders.
//
// - Examples go as multipart POST /class-sets/{name}/examples: a `label` field, then that label's
//   files (each file takes the last `label` before it), several labels per chunk.
// - Chunks are sent one after another (embedding is the service's CPU work anyway), each asked to
//   run as a job (`?async=true`, 202): polling /jobs/{id} moves the progress bar photo by photo and
//   no request stays open while photos are embedded. A service that answers 200 at once is fine too.
// - 503/429: the chunk is sent again after Retry-After; 413 for several files: split in halves.
// - Any other refusal ends the upload with the API's own error (401/403 too: the page asks for a key).

import { chunkItems, errorOf, retryAfterMs, sleep } from './jobs.js';

/**
 * @typedef {import('./jobs.js').ItemError} ApiErrorBody
 * @typedef {{ label: string, count: number }} LabelCount
 * @typedef {{ name: string, model: { id: string, sha256: string } | null, dim: number | null,
 *   threshold: number | null, labels: LabelCount[], examples: number, created_at: string,
 *   updated_at: string }} ClassSetView
 * @typedef {{ label: string, count: number, precision: number | null, recall: number | null,
 *   needs_more_photos: boolean }} LabelScore
 * @typedef {{ method: string, splits: number, shots: number | null, top1: number | null, top3: number | null,
 *   calibrated_threshold: number | null, labels: LabelScore[],
 *   confusion: { labels: string[], matrix: number[][] }, warnings: string[] }} Evaluation
 * @typedef {{ source: string, label: string, existing_label: string }} Duplicate
 * @typedef {{ source: string, error: ApiErrorBody }} Skipped
 * @typedef {{ added: number, duplicates: Duplicate[], skipped: Skipped[], set: ClassSetView }} ExamplesAnswer
 * @typedef {{ label: string, file: File }} Example
 * @typedef {{ done: number, total: number }} UploadProgress
 */

/** An API refusal, carrying the service's error body. */
export class ApiError extends Error {
  /** @param {ApiErrorBody} body */
  constructor(body) {
    super(body.message);
    this.name = 'ApiError';
    this.code = body.code;
    this.status = body.status;
  }
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
const NETWORK = {
  code: 'network_error',
  message: 'Could not reach the service. Check that it is running and try again.',
};

/**
 * Labels from a folder the user picked (`webkitRelativePath` "reef/Chromis/a.png"): each sub-folder
 * of the picked folder is a label (its images found at any depth below it, as the CLI's `classes
 * create` does); a folder with no sub-folders is one label named after itself.
 * @param {{ file: File, path: string }[]} files path relative to the folder's parent, "/"-separated
 * @returns {{ examples: Example[], ignored: number }} ignored: files lying directly in the folder beside sub-folders
 */
export function examplesFromFolder(files) {
  const parts = files.map(({ file, path }) => ({ file, parts: path.split('/').filter(Boolean) }));
  /** @type {Map<string, boolean>} root folder name -> has sub-folders */
  const nested = new Map();
  for (const { parts: p } of parts) nested.set(p[0], (nested.get(p[0]) ?? false) || p.length > 2);
  /** @type {Example[]} */
  const examples = [];
  let ignored = 0;
  for (const { file, parts: p } of parts) {
    if (p.length < 2) ignored++;
    else if (nested.get(p[0])) {
      if (p.length > 2) examples.push({ label: p[1], file });
      else ignored++;
    } else examples.push({ label: p[0], file });
  }
  return { examples, ignored };
}

/**
 * Talks to the service's /class-sets routes.
 * @param {{ baseUrl: string, getApiKey: () => string, fetch?: typeof fetch, chunkFiles?: number,
 *   chunkBytes?: number, pollMs?: number }} config
 */
export function createClassSetsClient(config) {
  const doFetch = config.fetch ?? ((...args) => fetch(...args));
  const base = config.baseUrl;
  const chunkFiles = config.chunkFiles ?? 16;
  const chunkBytes = config.chunkBytes ?? 8 * 1024 * 1024;
  const pollMs = config.pollMs ?? 400;

  /** @param {Record<string, string>} [extra] */
  function headers(extra = {}) {
    const key = config.getApiKey();
    return key
      ? { Accept: 'application/json', ...extra, Authorization: `Bearer ${key}` }
      : { Accept: 'application/json', ...extra };
  }

  /**
   * One request; the JSON answer, or an ApiError with the service's message.
   * @param {string} path
   * @param {RequestInit} [init]
   * @returns {Promise<any>}
   */
  async function call(path, init = {}) {
    let response;
    try {
      response = await doFetch(`${base}${path}`, {
        cache: 'no-store',
        ...init,
        headers: headers(/** @type {Record<string, string>} */ (init.headers)),
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new ApiError(NETWORK);
    }
    if (!response.ok) throw new ApiError(await errorOf(response));
    return response.status === 204 ? null : response.json();
  }

  const setPath = (/** @type {string} */ name) => `/class-sets/${encodeURIComponent(name)}`;
  const json = (/** @type {unknown} */ body) => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

  /**
   * Polls a job until it is finished; its result is the examples answer.
   * @param {string} id
   * @param {(done: number) => void} onDone files of this job finished so far
   * @param {AbortSignal} [signal]
   * @returns {Promise<ExamplesAnswer>}
   */
  async function waitForJob(id, onDone, signal) {
    for (;;) {
      await sleep(pollMs, signal);
      const job = await call(`/jobs/${encodeURIComponent(id)}`, { signal });
      if (job.progress) onDone(job.progress.done);
      if (!FINISHED.has(job.status)) continue;
      if (job.status === 'succeeded' && job.result) return job.result;
      throw new ApiError(
        job.error ?? { code: 'job_cancelled', message: `The upload job was ${job.status} before it finished.` },
      );
    }
  }

  /**
   * Sends one chunk (splitting it when it is too large); resolves with the merged answers.
   * @param {string} name
   * @param {Example[]} chunk
   * @param {(done: number) => void} onDone files of this chunk finished so far
   * @param {AbortSignal} [signal]
   * @returns {Promise<ExamplesAnswer[]>}
   */
  async function sendChunk(name, chunk, onDone, signal) {
    const form = new FormData();
    let last = null;
    for (const { label, file } of chunk) {
      if (label !== last) form.append('label', label);
      last = label;
      form.append('file', file, file.name);
    }
    for (;;) {
      let response;
      try {
        response = await doFetch(`${base}${setPath(name)}/examples?async=true`, {
          method: 'POST',
          headers: headers(),
          body: form,
          signal,
        });
      } catch (err) {
        if (signal?.aborted) throw err;
        throw new ApiError(NETWORK);
      }
      if (response.status === 202) {
        const accepted = await response.json();
        const answer = await waitForJob(accepted.job_id ?? accepted.id, onDone, signal);
        onDone(chunk.length);
        return [answer];
      }
      if (response.ok) {
        onDone(chunk.length);
        return [await response.json()];
      }
      if (response.status === 503 || response.status === 429) {
        await sleep(retryAfterMs(response.headers.get('Retry-After')), signal);
        continue;
      }
      if (response.status === 413 && chunk.length > 1) {
        const half = Math.ceil(chunk.length / 2);
        const first = await sendChunk(name, chunk.slice(0, half), onDone, signal);
        const second = await sendChunk(name, chunk.slice(half), (n) => onDone(half + n), signal);
        return [...first, ...second];
      }
      throw new ApiError(await errorOf(response));
    }
  }

  return {
    /** @returns {Promise<ClassSetView[]>} */
    list: async () => (await call('/class-sets')).sets,
    /**
     * @param {string} name
     * @returns {Promise<ClassSetView>}
     */
    create: async (name) => (await call('/class-sets', json({ name }))).set,
    /**
     * @param {string} name
     * @param {boolean} [evaluate]
     * @returns {Promise<{ set: ClassSetView, evaluation: Evaluation | null }>}
     */
    show: (name, evaluate = false) => call(`${setPath(name)}${evaluate ? '?evaluate=true' : ''}`),
    /** @param {string} name */
    remove: (name) => call(setPath(name), { method: 'DELETE' }),
    /**
     * @param {string} name
     * @param {string} label
     * @returns {Promise<ClassSetView>}
     */
    removeLabel: async (name, label) =>
      (await call(`${setPath(name)}/labels/${encodeURIComponent(label)}`, { method: 'DELETE' })).set,
    /**
     * Uploads labelled photos in chunks, one chunk at a time, reporting how many are finished.
     * @param {string} name
     * @param {Example[]} examples
     * @param {{ onProgress?: (p: UploadProgress) => void, signal?: AbortSignal }} [how]
     * @returns {Promise<ExamplesAnswer>} the answers of all chunks together (set: the last one's)
     */
    async addExamples(name, examples, { onProgress = () => {}, signal } = {}) {
      // Same labels next to each other: one `label` field per run of files.
      const ordered = [...examples].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
      const chunks = chunkItems(ordered, chunkFiles, chunkBytes);
      const total = ordered.length;
      /** @type {ExamplesAnswer} */
      const merged = {
        added: 0,
        duplicates: [],
        skipped: [],
        set: /** @type {ClassSetView} */ (/** @type {unknown} */ (null)),
      };
      let before = 0;
      onProgress({ done: 0, total });
      for (const chunk of chunks) {
        const answers = await sendChunk(
          name,
          chunk,
          (n) => onProgress({ done: before + Math.min(n, chunk.length), total }),
          signal,
        );
        for (const a of answers) {
          merged.added += a.added;
          merged.duplicates.push(...(a.duplicates ?? []));
          merged.skipped.push(...(a.skipped ?? []));
          merged.set = a.set;
        }
        before += chunk.length;
      }
      onProgress({ done: total, total });
      return merged;
    },
  };
}

/** @typedef {ReturnType<typeof createClassSetsClient>} ClassSetsClient */
