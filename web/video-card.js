// One dropped video on the page: its progress by frames (with an ETA and a cancel button) while the
// service classifies it, then its timeline strip (switchable between classes and marine groups),
// the best frame of a clicked span, the summary table and the CSV downloads.
import { FramePainter } from './best-frame.js';
import { download, stamp } from './download.js';
import { summaryTable, stripView } from './timeline.js';
import { VideoJob } from './video-job.js';
import { summaryCsv, timelineCsv } from './video-rows.js';

/**
 * @typedef {import('./jobs.js').ItemError} ItemError
 * @typedef {import('./video-job.js').VideoOptions} VideoOptions
 * @typedef {import('./video-job.js').VideoProgress} VideoProgress
 * @typedef {import('./video-job.js').VideoAnswer} VideoAnswer
 * @typedef {import('./video-job.js').VideoJobRecord} VideoJobRecord
 * @typedef {import('./timeline.js').FrameChoice} FrameChoice
 * @typedef {import('./timeline.js').Level} Level
 * @typedef {{ baseUrl: string, headers: () => Record<string, string>, model: () => Promise<string>,
 *   onAuthRequired: (error: ItemError) => void, onRemove: (card: VideoCard) => void,
 *   onFinished?: (card: VideoCard) => void }} VideoCardConfig
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @param {string} text
 * @param {string} label
 * @param {() => void} onClick
 * @param {string} [className]
 */
function button(text, label, onClick, className = 'button small') {
  const b = el('button', className, text);
  b.type = 'button';
  if (label !== text) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

/** @param {number | null | undefined} seconds */
function eta(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return ` · about ${Math.max(1, Math.round(seconds))} s left`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return ` · about ${minutes} min ${Math.round(seconds % 60)} s left`;
  return ` · about ${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

let nextCard = 1;

export class VideoCard {
  /** @type {VideoCardConfig} */
  #config;
  #file;
  #options;
  #objectUrl;
  /** @type {FramePainter | null} */
  #painter = null;
  /** @type {VideoJob | null} */
  #job = null;
  /** @type {Level} */
  #level = 'class';
  /** @type {VideoAnswer | null} */
  #answer = null;
  #removed = false;
  #running = false;
  /** @type {HTMLLIElement} */
  element;
  #body;
  /** Speaks the stages (uploading, classifying, done), not every frame count: a screen reader is not flooded. */
  #live;
  #headingId;

  /**
   * @param {File} file
   * @param {VideoOptions} options
   * @param {VideoCardConfig} config
   */
  constructor(file, options, config) {
    this.#file = file;
    this.#options = options;
    this.#config = config;
    this.#objectUrl = URL.createObjectURL(file);
    this.#headingId = `video-${nextCard++}`;
    const li = el('li', 'video-card');
    li.setAttribute('aria-labelledby', this.#headingId);
    const head = el('div', 'card-head');
    const title = el('h3', 'file-name', file.name);
    title.id = this.#headingId;
    title.title = file.name;
    const remove = button('', `Remove ${file.name}`, () => this.remove(), 'icon-button remove');
    remove.innerHTML =
      '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6 6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';
    head.append(title, remove);
    this.#body = el('div', 'video-body');
    this.#live = el('p', 'visually-hidden');
    this.#live.setAttribute('role', 'status');
    li.append(head, this.#body, this.#live);
    this.element = li;
  }

  get name() {
    return this.#file.name;
  }

  /** True while the video is uploaded or classified. */
  get running() {
    return this.#running;
  }

  /** The job's id once it answered with a timeline (it can then be exported as a survey), else null. */
  get finishedJobId() {
    return this.#answer ? (this.element.dataset.job ?? null) : null;
  }

  /** Uploads the video and follows its job; the card shows each stage. */
  async start() {
    const progress = /** @type {HTMLProgressElement} */ (el('progress', 'video-progress'));
    progress.setAttribute('aria-label', `Frames of ${this.name} classified`);
    const status = el('p', 'video-status', 'Uploading…');
    const cancel = button('Cancel', `Cancel classifying ${this.name}`, () => {
      cancel.disabled = true;
      status.textContent = 'Cancelling…';
      void this.#job?.cancel();
    });
    const row = el('div', 'video-progress-row');
    row.append(progress, cancel);
    this.#body.replaceChildren(row, status);
    this.element.dataset.state = 'sending';
    this.#say(`Uploading ${this.name}.`);
    const job = new VideoJob({
      baseUrl: this.#config.baseUrl,
      file: this.#file,
      options: this.#options,
      headers: this.#config.headers,
      onProgress: (state, p) => {
        this.element.dataset.state = state;
        if (job.id) this.element.dataset.job = job.id;
        this.#showProgress(progress, status, state, p);
      },
    });
    this.#job = job;
    this.#running = true;
    try {
      const record = await job.run();
      this.#running = false;
      if (record.id) this.element.dataset.job = record.id;
      if (this.#removed) return;
      if (record.status === 'cancelled') this.#showStop('Cancelled.', null);
      else if (record.status !== 'succeeded' || !record.video)
        this.#showStop('Could not classify this video.', record.error ?? null);
      else {
        await this.#showAnswer(record);
        this.#config.onFinished?.(this);
      }
    } catch (err) {
      this.#running = false;
      if (this.#removed) return;
      const error = /** @type {ItemError} */ (err);
      if (error.status === 401 || error.status === 403) this.#config.onAuthRequired(error);
      this.#showStop('Could not classify this video.', error);
    }
  }

  /**
   * @param {HTMLProgressElement} bar
   * @param {HTMLElement} status
   * @param {'sending'|'queued'|'running'} state
   * @param {VideoProgress | null} p
   */
  #showProgress(bar, status, state, p) {
    if (state === 'running') this.#say(`Classifying the frames of ${this.name}.`);
    if (state === 'sending') status.textContent = 'Uploading…';
    else if (state === 'queued') status.textContent = 'Queued on the service…';
    else if (!p || p.total === 0) status.textContent = 'Reading the video…';
    else {
      bar.max = p.total;
      bar.value = Math.min(p.done, p.total);
      status.textContent = `${p.done} of ${p.total} frames${eta(p.eta_seconds)}`;
    }
  }

  /**
   * @param {string} title
   * @param {ItemError | null} error
   */
  #showStop(title, error) {
    this.element.dataset.state = error ? 'error' : 'cancelled';
    this.#say(`${this.name}: ${title}`);
    const box = el('div', 'outcome error');
    box.append(el('p', 'error-title', title));
    if (error) {
      box.append(el('p', 'error-message', error.message));
      const code = el('p', 'error-code');
      code.append('Code: ', el('code', '', error.code));
      box.append(code);
    }
    box.append(button('Try again', `Classify ${this.name} again`, () => void this.start()));
    this.#body.replaceChildren(box);
  }

  /** @param {VideoJobRecord} record */
  async #showAnswer(record) {
    const answer = /** @type {VideoAnswer} */ (record.video);
    this.#answer = answer;
    this.element.dataset.state = 'done';
    const { video, summary } = answer;
    const classes = summary.classes.length;
    this.#say(`${this.name} classified: ${classes} ${classes === 1 ? 'class' : 'classes'} in its timeline.`);
    const sampling = 'keyframes' in video.sampling ? 'keyframes' : `one every ${video.sampling.every_seconds} s`;
    const facts = [
      video.duration !== null ? `${video.duration.toFixed(1)} s` : null,
      `${video.width} × ${video.height}`,
      video.codec,
      `${summary.frames} frames, ${sampling}`,
      summary.smooth_frames > 1 ? `smoothed over ${summary.smooth_frames}` : null,
    ].filter(Boolean);
    const parts = [el('p', 'meta', facts.join(' · '))];
    if (record.error)
      parts.push(el('p', 'notice', `Stopped early: ${record.error.message} The frames before are shown.`));

    const levels = el('fieldset', 'lane-level');
    levels.append(el('legend', '', 'Lanes'));
    for (const [value, text] of /** @type {const} */ ([
      ['class', 'By class'],
      ['group', 'By marine group'],
    ])) {
      const label = el('label');
      const radio = /** @type {HTMLInputElement} */ (el('input'));
      radio.type = 'radio';
      radio.name = `${this.#headingId}-level`;
      radio.value = value;
      radio.checked = value === this.#level;
      radio.addEventListener('change', () => {
        this.#level = value;
        this.#renderLevel(views);
      });
      label.append(radio, ` ${text}`);
      levels.append(label);
    }
    const views = { strip: el('div'), frame: el('figure', 'best-frame'), table: el('div', 'table-wrap') };
    views.frame.hidden = true;
    const downloads = el('div', 'video-actions');
    const model = await this.#config.model();
    downloads.append(
      button('Timeline CSV', `Download the timeline of ${this.name} as CSV`, () =>
        download(
          timelineCsv(this.name, answer, this.#options.top_k, model),
          'text/csv;charset=utf-8',
          `${this.#baseName()}-timeline-${stamp()}.csv`,
        ),
      ),
      button('Summary CSV', `Download the summary of ${this.name} as CSV`, () =>
        download(summaryCsv(this.name, answer), 'text/csv;charset=utf-8', `${this.#baseName()}-summary-${stamp()}.csv`),
      ),
    );
    this.#renderLevel(views);
    this.#body.replaceChildren(...parts, levels, views.strip, views.frame, views.table, downloads);
  }

  /** @param {{ strip: HTMLElement, frame: HTMLElement, table: HTMLElement }} views */
  #renderLevel(views) {
    const answer = /** @type {VideoAnswer} */ (this.#answer);
    const show = (/** @type {FrameChoice} */ choice) => void this.#showFrame(views.frame, choice);
    views.strip.replaceChildren(stripView(answer, this.#level, this.name, show));
    views.table.replaceChildren(summaryTable(answer, this.#level, show));
  }

  /**
   * @param {HTMLElement} figure
   * @param {FrameChoice} choice
   */
  async #showFrame(figure, choice) {
    const answer = /** @type {VideoAnswer} */ (this.#answer);
    this.#painter ??= new FramePainter(this.#objectUrl);
    const canvas = /** @type {HTMLCanvasElement} */ (el('canvas', 'frame-canvas'));
    const where = choice.span ? ` (span ${choice.span.start}–${choice.span.end})` : '';
    const score =
      choice.probability !== null && choice.probability >= 0 ? `, ${(choice.probability * 100).toFixed(1)}%` : '';
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Frame of ${this.name} at ${choice.timecode}: ${choice.label}`);
    const caption = el('figcaption', '', `Best frame of ${choice.label}${where}: ${choice.timecode}${score}`);
    figure.hidden = false;
    figure.dataset.state = 'loading';
    figure.replaceChildren(canvas, caption);
    const drawn = await this.#painter.draw(canvas, choice.seconds, answer.video.frame_rate);
    if (!drawn) {
      canvas.remove();
      caption.textContent = `${caption.textContent}. This browser cannot play this video’s format (${answer.video.codec}), so the frame is named by its time only.`;
    }
    figure.dataset.state = drawn ? 'drawn' : 'no-picture';
  }

  /** @param {string} text */
  #say(text) {
    if (this.#live.textContent !== text) this.#live.textContent = text;
  }

  #baseName() {
    return this.name.replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'video';
  }

  /** Stops the job if it runs, and takes the card off the page. */
  remove() {
    this.#removed = true;
    if (this.#running) void this.#job?.cancel();
    this.#painter?.dispose();
    URL.revokeObjectURL(this.#objectUrl);
    this.element.remove();
    this.#config.onRemove(this);
  }
}
