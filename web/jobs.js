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
 * @typedef {{ top_k: number, marine_only: boolean, min_score: number }} JobOptions
 * @typedef {{ code: string, message: string, status?: number, retryable?: boolean }} ItemError
 * @typedef {{ id: number, kind: 'file'|'url', file?: File, url?: string, name: string, state: ItemState,
 *   options: JobOptions, result?: object, error?: ItemError, removed?: boolean }} Item
 * @typedef {{ kind: 'file'|'url', items: Item[], options: JobOptions }} Chunk
 */

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** Resolves after `ms`, or rejects at once when the signal aborts. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After in milliseconds (delta-seconds or an HTTP date), within [min, max]. */
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

/** Splits files into chunks of at most `maxFiles` files and about `maxBytes` bytes (a bigger file goes alone). */
export function chunkItems(items, maxFiles, maxBytes) {
  const chunks = [];
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

/** The error an API answer carries, in the shape cards show. */
async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): fall back to the status line.
  }
  const e = body && typeof body === 'object' ? body.error : null;
  if (e && typeof e.message === 'string')
    return { code: String(e.code ?? `http_${response.status}`), message: e.message, status: response.status };
  const generic = {
    401: 'The service needs an API key.',
    403: 'The API key was not accepted.',
    404: 'The service has no such job any more.',
    413: 'The upload is larger than the service accepts.',
    429: 'Too many requests; try again shortly.',
    503: 'The service is busy; try again shortly.',
  };
  return {
    code: `http_${response.status}`,
    message:
      generic[response.status] ?? `The service answered ${response.status} ${response.statusText || ''}`.trim() + '.',
    status: response.status,
  };
}

const NETWORK_ERROR = {
  code: 'network_error',
  message: 'Could not reach the service. Check that it is running and try again.',
  retryable: true,
};

/**
 * @param {{
 *   baseUrl?: string,
 *   fetch?: typeof fetch,
 *   chunkFiles?: number, chunkBytes?: number, chunkUrls?: number, maxJobs?: number,
 *   pollStartMs?: number, pollMaxMs?: number,
 *   getApiKey: () => string,
 *   onItem: (item: Item) => void,
 *   onAuthRequired: (error: ItemError) => void,
 *   onNotice: (text: string) => void,
 * }} config
 */
export function createJobRunner(config) {
  const doFetch = config.fetch ?? ((...args) => fetch(...args));
  const base = config.baseUrl ?? '';
  const chunkFiles = config.chunkFiles ?? 8;
  const chunkBytes = config.chunkBytes ?? 8 * 1024 * 1024;
  const chunkUrls = config.chunkUrls ?? 16;
  const maxJobs = config.maxJobs ?? 3;
  const pollStartMs = config.pollStartMs ?? 300;
  const pollMaxMs = config.pollMaxMs ?? 1000;

  /** @type {Chunk[]} */
  let queue = [];
  let active = 0;
  let paused = false;
  /** Aborted by clear(): every request and wait of the old generation stops. */
  let controller = new AbortController();
  /** @type {Set<() => void>} polls waiting for an API key */
  let authWaiters = new Set();
  /** @type {Set<string>} status URLs of jobs submitted and not yet seen finished */
  const openJobs = new Set();

  function headers(extra = {}) {
    const key = config.getApiKey();
    return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
  }

  function update(item, state, fields = {}) {
    if (item.removed) return;
    Object.assign(item, fields);
    item.state = state;
    config.onItem(item);
  }

  function fail(item, error) {
    if (item.state === 'done' || item.state === 'error') return;
    update(item, 'error', { error });
  }

  function needAuth(error) {
    if (!paused) {
      paused = true;
      config.onAuthRequired(error);
    }
  }

  function waitForAuth(signal) {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const wake = () => {
        authWaiters.delete(wake);
        resolve();
      };
      authWaiters.add(wake);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  function submit(chunk, signal) {
    const { top_k, marine_only, min_score } = chunk.options;
    if (chunk.kind === 'url') {
      return doFetch(`${base}/jobs`, {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
        body: JSON.stringify({ images: chunk.items.map((i) => ({ image_url: i.url })), top_k, marine_only, min_score }),
        signal,
      });
    }
    const form = new FormData();
    // Options first, so a streaming multipart parser knows them before the files arrive.
    form.append('top_k', String(top_k));
    form.append('marine_only', String(marine_only));
    form.append('min_score', String(min_score));
    for (const item of chunk.items) form.append('file', item.file, item.name);
    return doFetch(`${base}/jobs`, {
      method: 'POST',
      headers: headers({ Accept: 'application/json' }),
      body: form,
      signal,
    });
  }

  /** Applies a job record's outcomes to the chunk's items; true once the job is finished. */
  function apply(chunk, job) {
    const items = chunk.items;
    if (Array.isArray(job.results)) {
      for (const entry of job.results) {
        const item = items[entry.index];
        if (!item || item.state === 'done' || item.state === 'error') continue;
        if (entry.result) update(item, 'done', { result: entry.result, error: undefined });
        else
          fail(item, entry.error ?? { code: 'unknown_error', message: 'The service gave no result for this image.' });
      }
    } else if (job.result && items[0]) {
      if (items[0].state !== 'done') update(items[0], 'done', { result: job.result, error: undefined });
    }
    const finished = FINISHED.has(job.status);
    if (!finished) {
      const state = job.status === 'running' ? 'running' : 'waiting';
      for (const item of items)
        if (item.state !== 'done' && item.state !== 'error' && item.state !== state) update(item, state);
      return false;
    }
    // Whatever the job did not answer for takes the job's own error.
    const fallback =
      job.status === 'cancelled'
        ? { code: 'cancelled', message: 'The job was cancelled before this image was classified.' }
        : (job.error ?? { code: 'unknown_error', message: 'The service gave no result for this image.' });
    for (const item of items) fail(item, fallback);
    return true;
  }

  async function run(chunk, signal) {
    chunk.items = chunk.items.filter((i) => !i.removed);
    if (chunk.items.length === 0) return;
    for (const item of chunk.items) update(item, 'sending');

    // 1. Submit, retrying while the service is busy.
    let job;
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await submit(chunk, signal);
      } catch (err) {
        if (signal.aborted) return;
        if (attempt < 2) {
          await sleep(1000 * (attempt + 1), signal);
          continue;
        }
        for (const item of chunk.items) fail(item, NETWORK_ERROR);
        return;
      }
      if (response.ok) {
        job = await response.json();
        break;
      }
      const error = await errorOf(response);
      if (response.status === 401 || response.status === 403) {
        for (const item of chunk.items) update(item, 'queued');
        queue.unshift(chunk);
        needAuth(error);
        return;
      }
      if (response.status === 503 || response.status === 429) {
        const wait = retryAfterMs(response.headers.get('Retry-After'));
        config.onNotice(`${error.message} Retrying in ${Math.ceil(wait / 1000)} s.`);
        for (const item of chunk.items) update(item, 'queued');
        await sleep(wait, signal);
        for (const item of chunk.items) update(item, 'sending');
        continue;
      }
      if (response.status === 413 && chunk.kind === 'file' && chunk.items.length > 1) {
        // Too big together: send the halves as separate jobs.
        const half = Math.ceil(chunk.items.length / 2);
        for (const item of chunk.items) update(item, 'queued');
        queue.unshift(
          { kind: chunk.kind, options: chunk.options, items: chunk.items.slice(0, half) },
          { kind: chunk.kind, options: chunk.options, items: chunk.items.slice(half) },
        );
        return;
      }
      // Anything else (400 bad options, 413 for one file, 5xx) goes on the cards; a server fault may be retried.
      for (const item of chunk.items) fail(item, { ...error, retryable: response.status >= 500 });
      return;
    }

    // 2. Poll until finished, with backoff.
    // Built from the base rather than taken from status_url, so that it also works behind a path prefix.
    const statusUrl = `${base}/jobs/${encodeURIComponent(job.id)}`;
    if (apply(chunk, job)) return;
    openJobs.add(statusUrl);
    try {
      await poll(chunk, statusUrl, signal);
    } finally {
      openJobs.delete(statusUrl);
    }
  }

  async function poll(chunk, statusUrl, signal) {
    let delay = pollStartMs;
    let failures = 0;
    for (;;) {
      await sleep(delay, signal);
      delay = Math.min(pollMaxMs, Math.round(delay * 1.5));
      let response;
      try {
        response = await doFetch(statusUrl, {
          headers: headers({ Accept: 'application/json' }),
          cache: 'no-store',
          signal,
        });
      } catch {
        if (signal.aborted) return;
        if (++failures >= 10) {
          for (const item of chunk.items) fail(item, NETWORK_ERROR);
          return;
        }
        delay = pollMaxMs;
        continue;
      }
      failures = 0;
      if (response.status === 401 || response.status === 403) {
        needAuth(await errorOf(response));
        await waitForAuth(signal);
        continue;
      }
      if (!response.ok) {
        const error = await errorOf(response);
        if (response.status >= 500 && ++failures < 10) continue;
        for (const item of chunk.items) fail(item, { ...error, retryable: true });
        return;
      }
      if (apply(chunk, await response.json())) return;
    }
  }

  function pump() {
    while (!paused && active < maxJobs && queue.length > 0) {
      const chunk = queue.shift();
      const signal = controller.signal;
      active++;
      run(chunk, signal)
        .catch((err) => {
          if (signal.aborted) return;
          // A bug or an unexpected answer: show it on the cards rather than leave them spinning.
          for (const item of chunk.items)
            fail(item, {
              code: 'client_error',
              message: `The page could not read the service's answer: ${err?.message ?? err}`,
              retryable: true,
            });
        })
        .finally(() => {
          if (signal !== controller.signal) return; // cleared meanwhile; the new generation counts its own
          active--;
          pump();
        });
    }
  }

  return {
    /** Queues items (same options for all) and starts sending. */
    add(items, options) {
      const files = items.filter((i) => i.kind === 'file');
      const urls = items.filter((i) => i.kind === 'url');
      for (const group of chunkItems(files, chunkFiles, chunkBytes))
        queue.push({ kind: 'file', items: group, options });
      for (let i = 0; i < urls.length; i += chunkUrls)
        queue.push({ kind: 'url', items: urls.slice(i, i + chunkUrls), options });
      pump();
    },
    /** Continues after an API key was entered. */
    resume() {
      paused = false;
      for (const wake of [...authWaiters]) wake();
      pump();
    },
    /** Drops everything queued, stops every request in flight, and cancels the service's jobs that have not started. */
    clear() {
      controller.abort(new DOMException('Cleared', 'AbortError'));
      for (const statusUrl of openJobs) {
        // Best effort: a job already running answers 409 and finishes on its own.
        doFetch(statusUrl, {
          method: 'DELETE',
          headers: headers({ Accept: 'application/json' }),
          keepalive: true,
        }).catch(() => {});
      }
      openJobs.clear();
      controller = new AbortController();
      queue = [];
      active = 0;
      authWaiters = new Set();
      paused = false;
    },
    get paused() {
      return paused;
    },
    /** Jobs in flight plus chunks waiting to be sent. */
    get pending() {
      return active + queue.length;
    },
  };
}
