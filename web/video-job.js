// One video through the jobs API, without DOM: the file goes as the request body with its own
// video/* type (no multipart: a video may be large, and the service streams the body to a file),
// the options in the query string; GET /jobs/{id} then gives frames done/total and an ETA until
// the job holds its timeline and summary. cancel() sends DELETE, which stops ffmpeg at once.
import { errorOf, sleep } from './jobs.js';

/**
 * @typedef {import('./jobs.js').ItemError} ItemError
 * @typedef {import('./report.js').Prediction} Prediction
 * @typedef {{ every: number, smooth: number, top_k: number, min_score: number, marine_only: boolean,
 *   min_frames?: number }} VideoOptions
 * @typedef {{ done: number, failed: number, total: number, eta_seconds?: number | null }} VideoProgress
 * @typedef {{ source: string, duration: number | null, width: number, height: number, frame_rate: number | null,
 *   codec: string, container: string, creation_time: string | null,
 *   sampling: { every_seconds: number } | { keyframes: true } }} VideoDescription
 * @typedef {{ timecode: string, seconds: number, answer: string, unknown: boolean, marine_group: string | null,
 *   predictions: Prediction[] }} TimelineEntry
 * @typedef {{ start: string, end: string, start_seconds: number, end_seconds: number }} Span
 * @typedef {{ label: string, group: string | null, frames: number, appearances: number, first_seen: string,
 *   first_seen_seconds: number, last_seen: string, last_seen_seconds: number, seconds_on_screen: number,
 *   spans: Span[], best_probability: number, mean_probability: number, best_frame: string,
 *   best_frame_seconds: number }} SummaryEntry
 * @typedef {{ frames: number, classes: SummaryEntry[], groups: SummaryEntry[], min_frames: number,
 *   gap_seconds: number, smooth_frames: number }} VideoSummary
 * @typedef {{ video: VideoDescription, timeline: TimelineEntry[], summary: VideoSummary }} VideoAnswer
 * @typedef {{ id: string, status: string, progress: VideoProgress, video?: VideoAnswer | null,
 *   error?: ItemError | null }} VideoJobRecord
 * @typedef {{ baseUrl: string, file: File, options: VideoOptions, headers: () => Record<string, string>,
 *   onProgress: (state: 'sending'|'queued'|'running', progress: VideoProgress | null) => void,
 *   fetch?: typeof fetch, pollMs?: number }} VideoJobConfig
 */

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** Container types by file name, for a file the browser gives no type (a .mkv, say); the service sniffs the bytes anyway. */
const TYPES = /** @type {Record<string, string>} */ ({
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  mkv: 'video/x-matroska',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  flv: 'video/x-flv',
  '3gp': 'video/3gpp',
});

export const VIDEO_NAME = /\.(mp4|m4v|mov|mkv|webm|avi|flv|3gp)$/i;

/** @param {File} file */
export function isVideoFile(file) {
  return file.type.startsWith('video/') || VIDEO_NAME.test(file.name);
}

/** @param {File} file */
export function videoTypeOf(file) {
  if (file.type.startsWith('video/')) return file.type;
  return TYPES[(/\.([^.]+)$/.exec(file.name)?.[1] ?? '').toLowerCase()] ?? 'video/mp4';
}

/**
 * The query string of a video upload: the same option names as a video_path job's body.
 * @param {VideoOptions} options
 */
export function videoQuery(options) {
  const query = new URLSearchParams({
    every: String(options.every),
    smooth: String(options.smooth),
    top_k: String(options.top_k),
    min_score: String(options.min_score),
    marine_only: String(options.marine_only),
  });
  if (options.min_frames !== undefined) query.set('min_frames', String(options.min_frames));
  return query.toString();
}

export class VideoJob {
  /** @type {VideoJobConfig} */
  #config;
  #fetch;
  #controller = new AbortController();
  /** @type {string | null} */
  #id = null;
  #cancelled = false;

  /** @param {VideoJobConfig} config */
  constructor(config) {
    this.#config = config;
    this.#fetch = config.fetch ?? ((...args) => fetch(...args));
  }

  get id() {
    return this.#id;
  }

  /**
   * Uploads and follows the job to its end; resolves to the finished record, or rejects with an
   * ItemError (refused upload, lost service). A cancelled job resolves with status `cancelled`.
   * @returns {Promise<VideoJobRecord>}
   */
  async run() {
    const { baseUrl, file, options, headers, onProgress } = this.#config;
    const signal = this.#controller.signal;
    onProgress('sending', null);
    let response;
    try {
      response = await this.#fetch(`${baseUrl}/jobs?${videoQuery(options)}`, {
        method: 'POST',
        headers: { ...headers(), 'Content-Type': videoTypeOf(file), Accept: 'application/json' },
        body: file,
        signal,
      });
    } catch (err) {
      if (this.#cancelled) return this.#cancelledRecord();
      throw { code: 'network_error', message: `Could not upload the video: ${/** @type {Error} */ (err).message}` };
    }
    if (!response.ok) throw await errorOf(response);
    /** @type {{ id: string }} */
    const accepted = await response.json();
    this.#id = accepted.id;
    if (this.#cancelled) await this.#delete();
    return this.#poll(`${baseUrl}/jobs/${encodeURIComponent(accepted.id)}`);
  }

  /** Stops the upload, or the job (DELETE); run() then resolves with status `cancelled`. */
  async cancel() {
    if (this.#cancelled) return;
    this.#cancelled = true;
    if (this.#id) await this.#delete();
    else this.#controller.abort(new DOMException('Cancelled', 'AbortError'));
  }

  async #delete() {
    const url = `${this.#config.baseUrl}/jobs/${encodeURIComponent(/** @type {string} */ (this.#id))}`;
    await this.#fetch(url, {
      method: 'DELETE',
      headers: { ...this.#config.headers(), Accept: 'application/json' },
    }).catch(() => {});
  }

  /** @returns {VideoJobRecord} */
  #cancelledRecord() {
    return { id: this.#id ?? '', status: 'cancelled', progress: { done: 0, failed: 0, total: 0 } };
  }

  /**
   * @param {string} url
   * @returns {Promise<VideoJobRecord>}
   */
  async #poll(url) {
    let failures = 0;
    for (;;) {
      let response;
      try {
        response = await this.#fetch(url, {
          headers: { ...this.#config.headers(), Accept: 'application/json' },
          cache: 'no-store',
        });
      } catch {
        if (++failures >= 10)
          throw { code: 'network_error', message: 'Lost the service while the video was being classified.' };
        await sleep(1000);
        continue;
      }
      if (!response.ok) {
        if (response.status >= 500 && ++failures < 10) continue;
        throw await errorOf(response);
      }
      failures = 0;
      /** @type {VideoJobRecord} */
      const job = await response.json();
      if (FINISHED.has(job.status)) return job;
      this.#config.onProgress(job.status === 'running' ? 'running' : 'queued', job.progress);
      await sleep(this.#config.pollMs ?? 500);
    }
  }
}
