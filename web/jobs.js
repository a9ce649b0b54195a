// Sends images to the service's async jobs API in chunks, polls the jobs, and reports each image's
// outcome as it arrives. No DOM here: the page (app.js) renders what this reports.
//
// - Files go as multipart POST /jobs (several `file` fields per job), URLs as JSON POST /jobs.
// - At most `maxJobs` jobs are in flight; each holds at most `chunkFiles` files / `chunkBytes` bytes,
//   so 200 dropped photos never become one giant upload or 200 parallel ones.
// - 503/429 (queue full, rate limited): the chunk is retried after Retry-After.
// - 413 (too large): a chunk of several files is split and retried; a single file gets the error.
// - 401/403: everything pauses until the page supplies an API key and calls resume().

/**
 * @typedef {'queued'|'sending'|'waiting'|'running'|'done'|'error'} ItemState
 * @typedef {{ top_k: number, marine_only: boolean, min_score: number, class_set?: string }} JobOptions
 * @typedef {{ code: string, message: string, status?: number, retryable?: boolean }} ItemError
 * @typedef {import('./report.js').ClassificationResult} ClassificationResult
 * @typedef {{ id: number, kind: 'file'|'url', file?: File, url?: string, name: string, state: ItemState,
 *   options: JobOptions, result?: ClassificationResult, error?: ItemError, removed?: boolean,
 *   job?: { id: string, index: number } }} Item
 * @typedef {{ kind: 'file'|'url', items: Item[], options: JobOptions }} Chunk
 * @typedef {{ index: number, result?: ClassificationResult, error?: ItemError }} JobItemResult
 * @typedef {{ id: string, status: string, result?: ClassificationResult | null, results?: JobItemResult[],
 *   error?: ItemError | null }} JobRecord
 * @typedef {{
 *   baseUrl?: string,
 *   fetch?: typeof fetch,
 *   chunkFiles?: number, chunkBytes?: number, chunkUrls?: number, maxJobs?: number,
 *   pollStartMs?: number, pollMaxMs?: number,
 *   getApiKey: () => string,
 *   onItem: (item: Item) => void,
 *   onAuthRequired: (error: ItemError) => void,
 *   onNotice: (text: string) => void,
 * }} JobRunnerConfig
 */

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Resolves after `ms`, or rejects at once when the signal aborts.
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Retry-After in milliseconds (delta-seconds or an HTTP date), within [min, max].
 * @param {string | null | undefined} header
 */
export function retryAfterMs(header, fallback = 2000, min = 250, max = 60_000) {
  let ms = fallback;
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) ms = seconds * 1000;
    else {
      const at = Date.parse(header);
      if (Number.isFinite(at)) ms = at - Date.now();
    }
  }
  return Math.min(max, Math.max(min, ms));
}

/**
 * Splits files into chunks of at most `maxFiles` files and about `maxBytes` bytes (a bigger file goes alone).
 * @template {{ file?: { size: number } }} T
 * @param {T[]} items
 * @param {number} maxFiles
 * @param {number} maxBytes
 * @returns {T[][]}
 */
export function chunkItems(items, maxFiles, maxBytes) {
  /** @type {T[][]} */
  const chunks = [];
  /** @type {T[]} */
  let current = [];
  let bytes = 0;
  for (const item of items) {
    const size = item.file?.size ?? 0;
    if (current.length > 0 && (current.length >= maxFiles || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** @type {Record<number, string>} */
const GENERIC_MESSAGES = {
  401: 'The service needs an API key.',
  403: 'The API key was not accepted.',
  404: 'The service has no such job any more.',
  413: 'The upload is larger than the service accepts.',
  429: 'Too many requests; try again shortly.',
  503: 'The service is busy; try again shortly.',
};

/**
 * The error an API answer carries, in the shape cards show.
 * @param {Response} response
 * @returns {Promise<ItemError>}
 */
export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): fall back to the status line.
  }
  const e = body && typeof body === 'object' ? body.error : null;
  if (e && typeof e.message === 'string')
    return { code: String(e.code ?? `http_${response.status}`), message: e.message, status: response.status };
  return {
    code: `http_${response.status}`,
    message:
      GENERIC_MESSAGES[response.status] ??
      `${`The service answered ${response.status} ${response.statusText || ''}`.trim()}.`,
    status: response.status,
  };
}

/** @type {ItemError} */
const NETWORK_ERROR = {
  code: 'network_error',
  message: 'Could not reach the service. Check that it is running and try again.',
  retryable: true,
};

const NO_RESULT = { code: 'unknown_error', message: 'The service gave no result for this image.' };

/** @param {Item} item */
const isSettled = (item) => item.state === 'done' || item.state === 'error';

/**
 * The request that submits a chunk as one job: JSON for URLs, multipart for files.
 * @param {Chunk} chunk
 * @param {Record<string, string>} accept
 * @returns {{ headers: Record<string, string>, body: BodyInit }}
 */
function submission(chunk, accept) {
  const { top_k, marine_only, min_score, class_set } = chunk.options;
  // A class set is sent only when one is chosen: services without class sets see the same request as before.
  const withSet = class_set ? { class_set } : {};
  if (chunk.kind === 'url') {
    return {
      headers: { 'Content-Type': 'application/json', ...accept },
      body: JSON.stringify({
        images: chunk.items.map((i) => ({ image_url: i.url })),
        top_k,
        marine_only,
        min_score,
        ...withSet,
      }),
    };
  }
  const form = new FormData();
  // Options first, so a streaming multipart parser knows them before the files arrive.
  form.append('top_k', String(top_k));
  form.append('marine_only', String(marine_only));
  form.append('min_score', String(min_score));
  if (class_set) form.append('class_set', class_set);
  for (const item of chunk.items) if (item.file) form.append('file', item.file, item.name);
  return { headers: accept, body: form };
}

/** @param {JobRunnerConfig} config */
export function createJobRunner(config) {
  return new JobRunner(config);
}

export class JobRunner {
  /** @type {JobRunnerConfig} */
  #config;
  /** @type {typeof fetch} */
  #fetch;
  #base;
  #chunkFiles;
  #chunkBytes;
  #chunkUrls;
  #maxJobs;
  #pollStartMs;
  #pollMaxMs;
  /** @type {Chunk[]} */
  #queue = [];
  #active = 0;
  #paused = false;
  /** Aborted by clear(): every request and wait of the old generation stops. */
  #controller = new AbortController();
  /** @type {Set<() => void>} polls waiting for an API key */
  #authWaiters = new Set();
  /** @type {Set<string>} status URLs of jobs submitted and not yet seen finished */
  #openJobs = new Set();

  /** @param {JobRunnerConfig} config */
  constructor(config) {
    this.#config = config;
    this.#fetch = config.fetch ?? ((...args) => fetch(...args));
    this.#base = config.baseUrl ?? '';
    this.#chunkFiles = config.chunkFiles ?? 8;
    this.#chunkBytes = config.chunkBytes ?? 8 * 1024 * 1024;
    this.#chunkUrls = config.chunkUrls ?? 16;
    this.#maxJobs = config.maxJobs ?? 3;
    this.#pollStartMs = config.pollStartMs ?? 300;
    this.#pollMaxMs = config.pollMaxMs ?? 1000;
  }

  /**
   * Queues items (same options for all) and starts sending.
   * @param {Item[]} items
   * @param {JobOptions} options
   */
  add(items, options) {
    const files = items.filter((i) => i.kind === 'file');
    const urls = items.filter((i) => i.kind === 'url');
    for (const group of chunkItems(files, this.#chunkFiles, this.#chunkBytes))
      this.#queue.push({ kind: 'file', items: group, options });
    for (let i = 0; i < urls.length; i += this.#chunkUrls)
      this.#queue.push({ kind: 'url', items: urls.slice(i, i + this.#chunkUrls), options });
    this.#pump();
  }

  /** Continues after an API key was entered. */
  resume() {
    this.#paused = false;
    for (const wake of [...this.#authWaiters]) wake();
    this.#pump();
  }

  /** Drops everything queued, stops every request in flight, and cancels the service's jobs that have not started. */
  clear() {
    this.#controller.abort(new DOMException('Cleared', 'AbortError'));
    for (const statusUrl of this.#openJobs) {
      // Best effort: a job already running answers 409 and finishes on its own.
      this.#fetch(statusUrl, {
        method: 'DELETE',
        headers: this.#headers({ Accept: 'application/json' }),
        keepalive: true,
      }).catch(() => {});
    }
    this.#openJobs.clear();
    this.#controller = new AbortController();
    this.#queue = [];
    this.#active = 0;
    this.#authWaiters = new Set();
    this.#paused = false;
  }

  get paused() {
    return this.#paused;
  }

  /** Jobs in flight plus chunks waiting to be sent. */
  get pending() {
    return this.#active + this.#queue.length;
  }

  /**
   * @param {Record<string, string>} [extra]
   * @returns {Record<string, string>}
   */
  #headers(extra = {}) {
    const key = this.#config.getApiKey();
    return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
  }

  /**
   * @param {Item} item
   * @param {ItemState} state
   * @param {Partial<Item>} [fields]
   */
  #update(item, state, fields = {}) {
    if (item.removed) return;
    Object.assign(item, fields);
    item.state = state;
    this.#config.onItem(item);
  }

  /**
   * @param {Item} item
   * @param {ItemError} error
   */
  #fail(item, error) {
    if (isSettled(item)) return;
    this.#update(item, 'error', { error });
  }

  /**
   * @param {Chunk} chunk
   * @param {ItemError} error
   */
  #failAll(chunk, error) {
    for (const item of chunk.items) this.#fail(item, error);
  }

  /**
   * @param {Chunk} chunk
   * @param {ItemState} state
   */
  #setAll(chunk, state) {
    for (const item of chunk.items) this.#update(item, state);
  }

  /** @param {ItemError} error */
  #needAuth(error) {
    if (!this.#paused) {
      this.#paused = true;
      this.#config.onAuthRequired(error);
    }
  }

  /**
   * @param {AbortSignal} signal
   * @returns {Promise<void>}
   */
  #waitForAuth(signal) {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const wake = () => {
        this.#authWaiters.delete(wake);
        resolve();
      };
      this.#authWaiters.add(wake);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  /**
   * @param {Chunk} chunk
   * @param {AbortSignal} signal
   */
  #submit(chunk, signal) {
    const { headers, body } = submission(chunk, { Accept: 'application/json' });
    return this.#fetch(`${this.#base}/jobs`, { method: 'POST', headers: this.#headers(headers), body, signal });
  }

  /**
   * Applies a job record's outcomes to the chunk's items; true once the job is finished.
   * @param {Chunk} chunk
   * @param {JobRecord} job
   */
  #apply(chunk, job) {
    const items = chunk.items;
    if (Array.isArray(job.results)) {
      for (const entry of job.results) {
        const item = items[entry.index];
        if (!item || isSettled(item)) continue;
        if (entry.result) this.#update(item, 'done', { result: entry.result, error: undefined });
        else this.#fail(item, entry.error ?? { ...NO_RESULT });
      }
    } else if (job.result && items[0]) {
      if (items[0].state !== 'done') this.#update(items[0], 'done', { result: job.result, error: undefined });
    }
    if (!FINISHED.has(job.status)) {
      const state = job.status === 'running' ? 'running' : 'waiting';
      for (const item of items) if (!isSettled(item) && item.state !== state) this.#update(item, state);
      return false;
    }
    // Whatever the job did not answer for takes the job's own error.
    const fallback =
      job.status === 'cancelled'
        ? { code: 'cancelled', message: 'The job was cancelled before this image was classified.' }
        : (job.error ?? { ...NO_RESULT });
    this.#failAll(chunk, fallback);
    return true;
  }

  /**
   * @param {Chunk} chunk
   * @param {AbortSignal} signal
   */
  async #run(chunk, signal) {
    chunk.items = chunk.items.filter((i) => !i.removed);
    if (chunk.items.length === 0) return;
    this.#setAll(chunk, 'sending');
    const job = await this.#submitWithRetries(chunk, signal);
    if (!job) return;
    // Which job holds each image (at which index): a survey export is made per job.
    chunk.items.forEach((item, index) => {
      item.job = { id: job.id, index };
    });
    // Built from the base rather than taken from status_url, so that it also works behind a path prefix.
    const statusUrl = `${this.#base}/jobs/${encodeURIComponent(job.id)}`;
    if (this.#apply(chunk, job)) return;
    this.#openJobs.add(statusUrl);
    try {
      await this.#poll(chunk, statusUrl, signal);
    } finally {
      this.#openJobs.delete(statusUrl);
    }
  }

  /**
   * Submits the chunk, retrying while the service is busy; null when it was not accepted (the items say why).
   * @param {Chunk} chunk
   * @param {AbortSignal} signal
   * @returns {Promise<JobRecord | null>}
   */
  async #submitWithRetries(chunk, signal) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await this.#submit(chunk, signal);
      } catch {
        if (signal.aborted) return null;
        if (attempt < 2) {
          await sleep(1000 * (attempt + 1), signal);
          continue;
        }
        this.#failAll(chunk, NETWORK_ERROR);
        return null;
      }
      if (response.ok) return await response.json();
      if (!(await this.#refused(chunk, response, signal))) return null;
    }
  }

  /**
   * Handles an answer other than 2xx to a submission; true when the chunk should be sent again now.
   * @param {Chunk} chunk
   * @param {Response} response
   * @param {AbortSignal} signal
   */
  async #refused(chunk, response, signal) {
    const error = await errorOf(response);
    if (response.status === 401 || response.status === 403) {
      this.#setAll(chunk, 'queued');
      this.#queue.unshift(chunk);
      this.#needAuth(error);
      return false;
    }
    if (response.status === 503 || response.status === 429) {
      const wait = retryAfterMs(response.headers.get('Retry-After'));
      this.#config.onNotice(`${error.message} Retrying in ${Math.ceil(wait / 1000)} s.`);
      this.#setAll(chunk, 'queued');
      await sleep(wait, signal);
      this.#setAll(chunk, 'sending');
      return true;
    }
    if (response.status === 413 && chunk.kind === 'file' && chunk.items.length > 1) {
      // Too big together: send the halves as separate jobs.
      const half = Math.ceil(chunk.items.length / 2);
      this.#setAll(chunk, 'queued');
      this.#queue.unshift(
        { kind: chunk.kind, options: chunk.options, items: chunk.items.slice(0, half) },
        { kind: chunk.kind, options: chunk.options, items: chunk.items.slice(half) },
      );
      return false;
    }
    // Anything else (400 bad options, 413 for one file, 5xx) goes on the cards; a server fault may be retried.
    this.#failAll(chunk, { ...error, retryable: response.status >= 500 });
    return false;
  }

  /**
   * Polls the job until it is finished, with backoff.
   * @param {Chunk} chunk
   * @param {string} statusUrl
   * @param {AbortSignal} signal
   */
  async #poll(chunk, statusUrl, signal) {
    let delay = this.#pollStartMs;
    let failures = 0;
    for (;;) {
      await sleep(delay, signal);
      delay = Math.min(this.#pollMaxMs, Math.round(delay * 1.5));
      let response;
      try {
        response = await this.#fetch(statusUrl, {
          headers: this.#headers({ Accept: 'application/json' }),
          cache: 'no-store',
          signal,
        });
      } catch {
        if (signal.aborted) return;
        if (++failures >= 10) return this.#failAll(chunk, NETWORK_ERROR);
        delay = this.#pollMaxMs;
        continue;
      }
      failures = 0;
      if (response.status === 401 || response.status === 403) {
        this.#needAuth(await errorOf(response));
        await this.#waitForAuth(signal);
        continue;
      }
      if (!response.ok) {
        const error = await errorOf(response);
        if (response.status >= 500 && ++failures < 10) continue;
        return this.#failAll(chunk, { ...error, retryable: true });
      }
      if (this.#apply(chunk, await response.json())) return;
    }
  }

  #pump() {
    while (!this.#paused && this.#active < this.#maxJobs && this.#queue.length > 0) {
      const chunk = /** @type {Chunk} */ (this.#queue.shift());
      const signal = this.#controller.signal;
      this.#active++;
      this.#run(chunk, signal)
        .catch((err) => {
          if (signal.aborted) return;
          // A bug or an unexpected answer: show it on the cards rather than leave them spinning.
          this.#failAll(chunk, {
            code: 'client_error',
            message: `The page could not read the service's answer: ${err?.message ?? err}`,
            retryable: true,
          });
        })
        .finally(() => {
          if (signal !== this.#controller.signal) return; // cleared meanwhile; the new generation counts its own
          this.#active--;
          this.#pump();
        });
    }
  }
}
