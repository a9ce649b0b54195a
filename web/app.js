// The page: take images and videos (drop, pick, paste, URL), show one card per image (and one
// timeline card per video), and offer the results as CSV/JSON and as a survey package. Sending and
// polling live in jobs.js (photos) and video-job.js, the report rows in report.js and video-rows.js.
import { createJobRunner } from './jobs.js';
import { toCsv, toJson } from './report.js';
import { download, stamp } from './download.js';
import { filesBelow } from './dropped-files.js';
import { createSurveyExport } from './survey-export.js';
import { createTeachPanel } from './teach.js';
import { VideoCard } from './video-card.js';
import { isVideoFile } from './video-job.js';

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const els = {
  dropZone: $('drop-zone'),
  pickFiles: /** @type {HTMLButtonElement} */ ($('pick-files')),
  pickFolder: /** @type {HTMLButtonElement} */ ($('pick-folder')),
  fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
  folderInput: /** @type {HTMLInputElement} */ ($('folder-input')),
  urlForm: /** @type {HTMLFormElement} */ ($('url-form')),
  urlInput: /** @type {HTMLInputElement} */ ($('url-input')),
  urlError: $('url-error'),
  topK: /** @type {HTMLInputElement} */ ($('top-k')),
  minScore: /** @type {HTMLInputElement} */ ($('min-score')),
  videoEvery: /** @type {HTMLInputElement} */ ($('video-every')),
  videoSmooth: /** @type {HTMLInputElement} */ ($('video-smooth')),
  marineOnly: /** @type {HTMLInputElement} */ ($('marine-only')),
  classSet: /** @type {HTMLSelectElement} */ ($('class-set')),
  keyForm: /** @type {HTMLFormElement} */ ($('api-key-form')),
  keyInput: /** @type {HTMLInputElement} */ ($('api-key')),
  keyMessage: $('api-key-message'),
  progressText: $('progress-text'),
  progressLive: $('progress-live'),
  progressBar: $('progress-bar'),
  notice: $('notice'),
  downloadCsv: /** @type {HTMLButtonElement} */ ($('download-csv')),
  downloadJson: /** @type {HTMLButtonElement} */ ($('download-json')),
  clear: /** @type {HTMLButtonElement} */ ($('clear')),
  empty: $('empty'),
  grid: $('grid'),
  videos: $('videos'),
  heading: $('results-heading'),
  modelName: $('model-name'),
  template: /** @type {HTMLTemplateElement} */ ($('card-template')),
};

const KEY_STORAGE = 'marine-classifier-api-key';
const IMAGE_NAME = /\.(jpe?g|jfif|png|webp|gif|tiff?|avif)$/i;

/**
 * @typedef {import('./jobs.js').JobOptions} JobOptions
 * @typedef {import('./jobs.js').ItemError} ItemError
 * @typedef {import('./report.js').ClassificationResult} ClassificationResult
 * @typedef {import('./report.js').Prediction} Prediction
 * @typedef {{ kind: 'file', file: File } | { kind: 'url', url: string }} Source
 */

/**
 * One image on the page.
 * @typedef {import('./jobs.js').Item & { card: HTMLLIElement, objectUrl: string | null, counted: 'done'|'error'|null }} Entry
 */

/** @type {Map<number, Entry>} in the order the cards were added */
const entries = new Map();
let nextId = 1;
const counts = { total: 0, done: 0, failed: 0, marine: 0 };

let apiKey = '';
try {
  apiKey = sessionStorage.getItem(KEY_STORAGE) ?? '';
} catch {
  // Storage may be disabled; the key then lasts until the page is reloaded.
}

/** Custom labels per image in the CSV when a class set was used: the answer and two runners-up, as the CLI writes. */
const CUSTOM_TOP_K = 3;

/** The page's address of the API: /jobs when the page is at /, /marine/jobs behind a proxy at /marine/. */
const BASE_URL = new URL('.', location.href).pathname.replace(/\/$/, '');

const runner = createJobRunner({
  baseUrl: BASE_URL,
  getApiKey: () => apiKey,
  onItem: (item) => renderState(/** @type {Entry} */ (item)),
  onAuthRequired: showKeyForm,
  onNotice: showNotice,
});

/** @returns {Record<string, string>} */
function authHeaders() {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

/** @type {Set<VideoCard>} */
const videos = new Set();

/** @type {Promise<string> | null} */
let modelId = null;
/** The service's model id for the video CSV's `model` column (a job's timeline does not carry it). */
function serviceModel() {
  modelId ??= fetch(`${BASE_URL}/models`, { headers: { ...authHeaders(), Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : null))
    .then((body) => String(body?.model?.id ?? ''))
    .catch(() => '');
  return modelId;
}

const survey = createSurveyExport({
  baseUrl: BASE_URL,
  headers: authHeaders,
  onAuthRequired: showKeyForm,
  jobs: finishedJobs,
});

const teach = createTeachPanel({
  baseUrl: BASE_URL,
  getApiKey: () => apiKey,
  onAuthRequired: showKeyForm,
  onSetsChanged: (names) => {
    const chosen = els.classSet.value;
    els.classSet.replaceChildren(new Option('None: ImageNet only', ''));
    for (const name of names) els.classSet.append(new Option(name, name));
    els.classSet.value = names.includes(chosen) ? chosen : '';
  },
  onUse: (name) => {
    els.classSet.value = name;
    showNotice(`New images are classified with the class set “${name}”.`);
  },
});

// ---------------------------------------------------------------- options

function readOptions() {
  let topK = els.topK.value.trim() === '' ? 5 : Math.round(Number(els.topK.value));
  if (!Number.isFinite(topK) || topK < 1) topK = 1;
  if (topK > 20) topK = 20;
  els.topK.value = String(topK);
  let minScore = els.minScore.value.trim() === '' ? 0 : Number(els.minScore.value);
  if (!Number.isFinite(minScore) || minScore < 0) minScore = 0;
  if (minScore > 1) minScore = 1;
  els.minScore.value = String(minScore);
  return { top_k: topK, marine_only: els.marineOnly.checked, min_score: minScore, class_set: els.classSet.value };
}
els.topK.addEventListener('change', readOptions);
els.minScore.addEventListener('change', readOptions);

/** @returns {import('./video-job.js').VideoOptions} */
function readVideoOptions() {
  const { top_k, min_score, marine_only } = readOptions();
  let every = Number(els.videoEvery.value);
  if (!Number.isFinite(every) || every <= 0) every = 1;
  every = Math.min(3600, Math.max(0.04, every));
  els.videoEvery.value = String(every);
  let smooth = Math.round(Number(els.videoSmooth.value));
  if (!Number.isFinite(smooth) || smooth < 1) smooth = 1;
  smooth = Math.min(31, smooth);
  els.videoSmooth.value = String(smooth);
  return { every, smooth, top_k, min_score, marine_only };
}
els.videoEvery.addEventListener('change', readVideoOptions);
els.videoSmooth.addEventListener('change', readVideoOptions);

// ---------------------------------------------------------------- adding images

/**
 * @template {Element} E
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {E} the element the page's own markup always has
 */
function part(root, selector) {
  return /** @type {E} */ (root.querySelector(selector));
}

/**
 * @param {Source} source
 * @param {JobOptions} options
 */
function newEntry(source, options) {
  const card = /** @type {HTMLLIElement} */ (
    /** @type {Element} */ (els.template.content.firstElementChild).cloneNode(true)
  );
  const name = source.kind === 'file' ? source.file.name || 'pasted image' : source.url;
  /** @type {Entry} */
  const entry = {
    id: nextId++,
    kind: source.kind,
    file: source.kind === 'file' ? source.file : undefined,
    url: source.kind === 'url' ? source.url : undefined,
    name,
    state: 'queued',
    options,
    card,
    objectUrl: null,
    counted: null,
  };
  card.dataset.id = String(entry.id);
  const title = /** @type {HTMLElement} */ (part(card, '.file-name'));
  title.textContent = name;
  title.title = name;
  part(card, '.remove').setAttribute('aria-label', `Remove ${name}`);
  const img = /** @type {HTMLImageElement} */ (part(card, 'img'));
  img.addEventListener('error', () => card.classList.add('no-preview'), { once: true });
  if (source.kind === 'file') {
    entry.objectUrl = URL.createObjectURL(source.file);
    img.src = entry.objectUrl;
  } else {
    img.src = source.url;
  }
  return entry;
}

/** @param {Source[]} sources */
function addSources(sources) {
  if (sources.length === 0) return;
  const options = readOptions();
  const fragment = document.createDocumentFragment();
  const added = [];
  for (const source of sources) {
    const entry = newEntry(source, options);
    entries.set(entry.id, entry);
    fragment.append(entry.card);
    added.push(entry);
  }
  els.grid.append(fragment); // one DOM insertion for the whole batch
  counts.total += added.length;
  scheduleProgress();
  runner.add(added, options);
}

/**
 * @param {Iterable<File>} files
 * @param {{ onlyImages?: boolean }} [how]
 */
function addFiles(files, { onlyImages = false } = {}) {
  const list = [...files];
  // A video gets a timeline card of its own; everything else goes to the image cards as before.
  addVideos(list.filter(isVideoFile));
  const rest = list.filter((f) => !isVideoFile(f));
  const accepted = onlyImages ? rest.filter((f) => f.type.startsWith('image/') || IMAGE_NAME.test(f.name)) : rest;
  const skipped = rest.length - accepted.length;
  if (skipped > 0)
    showNotice(`Skipped ${skipped} ${skipped === 1 ? 'file that is' : 'files that are'} neither images nor videos.`);
  addSources(accepted.map((file) => ({ kind: /** @type {const} */ ('file'), file })));
}

/** @param {File[]} files */
function addVideos(files) {
  if (files.length === 0) return;
  const options = readVideoOptions();
  for (const file of files) {
    const card = new VideoCard(file, options, {
      baseUrl: BASE_URL,
      headers: authHeaders,
      model: serviceModel,
      onAuthRequired: showKeyForm,
      onFinished: () => scheduleProgress(),
      onRemove: (gone) => {
        videos.delete(gone);
        scheduleProgress();
        els.heading.focus();
      },
    });
    videos.add(card);
    els.videos.append(card.element);
    void card.start();
  }
  scheduleProgress();
}

/**
 * http(s) URLs in a piece of text, one per whitespace-separated word.
 * @param {string} text
 */
function urlsIn(text) {
  /** @type {string[]} */
  const urls = [];
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    try {
      const url = new URL(word);
      if (url.protocol === 'http:' || url.protocol === 'https:') urls.push(url.href);
    } catch {
      // not a URL
    }
  }
  return urls;
}

els.pickFiles.addEventListener('click', () => els.fileInput.click());
els.pickFolder.addEventListener('click', () => els.folderInput.click());
els.fileInput.addEventListener('change', () => {
  addFiles(els.fileInput.files ?? []);
  els.fileInput.value = '';
});
els.folderInput.addEventListener('change', () => {
  addFiles(els.folderInput.files ?? [], { onlyImages: true });
  els.folderInput.value = '';
});

els.urlForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const urls = urlsIn(els.urlInput.value.trim());
  if (urls.length === 0) {
    els.urlError.textContent = 'Enter a web address starting with http:// or https://.';
    els.urlInput.setAttribute('aria-invalid', 'true');
    els.urlInput.focus();
    return;
  }
  els.urlError.textContent = '';
  els.urlInput.removeAttribute('aria-invalid');
  els.urlInput.value = '';
  addSources(urls.map((url) => ({ kind: /** @type {const} */ ('url'), url })));
});

// Paste: images from the clipboard anywhere, or URLs when not typing into a field.
document.addEventListener('paste', (event) => {
  const data = event.clipboardData;
  if (!data) return;
  const files = [...data.files].filter((f) => f.type.startsWith('image/'));
  if (files.length > 0) {
    event.preventDefault();
    addFiles(files);
    return;
  }
  const target = /** @type {HTMLElement} */ (event.target);
  if (target.closest('input, textarea, [contenteditable="true"]')) return;
  const urls = urlsIn(data.getData('text/plain'));
  if (urls.length > 0) {
    event.preventDefault();
    addSources(urls.map((url) => ({ kind: /** @type {const} */ ('url'), url })));
  }
});

// Drag and drop: the whole window takes drops, the drop zone lights up.
let dragDepth = 0;
/** @param {DragEvent} event */
function isFileDrag(event) {
  // The Teach panel takes its own drops (examples for a class set, not images to classify).
  if (event.target instanceof Element && event.target.closest('#teach')) return false;
  const types = event.dataTransfer?.types ?? [];
  return [...types].some((t) => t === 'Files' || t === 'text/uri-list');
}
window.addEventListener('dragenter', (event) => {
  if (!isFileDrag(event)) return;
  event.preventDefault();
  if (dragDepth++ === 0) els.dropZone.classList.add('dragging');
});
window.addEventListener('dragover', (event) => {
  if (!isFileDrag(event)) return;
  event.preventDefault();
  if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
});
window.addEventListener('dragleave', () => {
  if (dragDepth > 0 && --dragDepth === 0) els.dropZone.classList.remove('dragging');
});
window.addEventListener('drop', (event) => {
  if (!isFileDrag(event)) return;
  event.preventDefault();
  dragDepth = 0;
  els.dropZone.classList.remove('dragging');
  void handleDrop(event.dataTransfer);
});

/** @param {DataTransfer | null} transfer */
async function handleDrop(transfer) {
  if (!transfer) return;
  // Everything must be taken from the DataTransfer before the first await: it empties afterwards.
  const items = [...(transfer.items ?? [])].filter((i) => i.kind === 'file');
  const dropped = items.map((i) => ({
    entry: typeof i.webkitGetAsEntry === 'function' ? i.webkitGetAsEntry() : null,
    file: i.getAsFile(),
  }));
  const plainFiles = [...transfer.files];
  const uriList = transfer.getData('text/uri-list');
  if (dropped.some((d) => d.entry?.isDirectory)) {
    /** @type {File[]} */
    const loose = [];
    /** @type {{ file: File, path: string }[]} */
    const fromFolders = [];
    for (const { entry, file } of dropped) {
      if (entry?.isDirectory) await filesBelow(entry, fromFolders);
      else if (file) loose.push(file);
    }
    addFiles(loose);
    addFiles(
      fromFolders.map((f) => f.file),
      { onlyImages: true },
    );
    return;
  }
  if (plainFiles.length > 0) {
    addFiles(plainFiles);
    return;
  }
  // An image dragged from another web page arrives as its address.
  const urls = urlsIn(
    uriList
      .split(/\r?\n/)
      .filter((l) => !l.startsWith('#'))
      .join(' '),
  );
  addSources(urls.map((url) => ({ kind: /** @type {const} */ ('url'), url })));
}

// ---------------------------------------------------------------- cards

/** @type {Record<string, string>} */
const STATE_TEXT = {
  queued: 'Waiting to upload',
  sending: 'Uploading…',
  waiting: 'Queued on the service…',
  running: 'Classifying…',
};

/** @param {number} p */
function percent(p) {
  const value = p * 100;
  if (value > 0 && value < 0.1) return '<0.1%';
  return `${value.toFixed(1)}%`;
}

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

/** @param {Entry} entry */
function renderState(entry) {
  if (!entries.has(entry.id)) return;
  const { card } = entry;
  card.dataset.state = entry.state;
  recount(entry);
  const body = part(card, '.card-body');
  const slot = part(body, '.state, .outcome');
  if (entry.state === 'done') slot.replaceWith(resultView(entry));
  else if (entry.state === 'error') slot.replaceWith(errorView(entry));
  else if (slot.classList.contains('state')) part(slot, '.state-text').textContent = STATE_TEXT[entry.state];
  else slot.replaceWith(stateView(entry.state));
  scheduleProgress();
}

/** @param {string} state */
function stateView(state) {
  const p = el('p', 'state');
  const spinner = el('span', 'spinner');
  spinner.setAttribute('aria-hidden', 'true');
  p.append(spinner, el('span', 'state-text', STATE_TEXT[state]));
  return p;
}

/** @param {Entry} entry */
function resultView(entry) {
  const r = /** @type {ClassificationResult} */ (entry.result);
  const box = el('div', 'outcome result');
  if (r.custom) {
    box.classList.add('has-custom');
    box.append(customView(r.custom), el('p', 'imagenet-head', 'ImageNet model'));
  }
  box.append(...answerViews(r, entry.options));
  if (r.predictions.length > 0) box.append(barsView(r.predictions));
  const meta = metaOf(r.image);
  if (meta.length) box.append(el('p', 'meta', meta.join(' · ')));
  if (r.model && !els.modelName.textContent) els.modelName.textContent = ` Model in use: ${r.model}.`;
  return box;
}

/**
 * The class set's answer: the custom label and its similarity, or "unknown" with the best guess.
 * @param {NonNullable<ClassificationResult['custom']>} c
 */
function customView(c) {
  const box = el('div', c.unknown ? 'custom is-unknown' : 'custom');
  const answer = el('p', 'answer custom-answer');
  const best = c.top[0];
  if (c.unknown) {
    answer.append(el('span', 'custom-label unknown', 'Unknown'));
    box.append(el('p', 'custom-set', `Class set “${c.set}”`), answer);
    if (best)
      box.append(
        el(
          'p',
          'explain',
          `Best guess “${best.label}” at similarity ${best.similarity.toFixed(2)} is below the set’s threshold of ${c.threshold.toFixed(2)}.`,
        ),
      );
    return box;
  }
  answer.append(
    el('span', 'custom-label', c.label),
    el('span', 'custom-similarity', `similarity ${c.similarity.toFixed(2)}`),
  );
  box.append(el('p', 'custom-set', `Class set “${c.set}”`), answer);
  const others = c.top.slice(1).map((t) => `${t.label} ${t.similarity.toFixed(2)}`);
  if (others.length > 0) box.append(el('p', 'custom-others', `Next: ${others.join(', ')}`));
  return box;
}

/**
 * The answer line, and what it means: why it is unknown, or whether it is a marine animal.
 * @param {ClassificationResult} r
 * @param {JobOptions} options
 */
function answerViews(r, options) {
  const best = r.predictions[0];
  const answer = el('p', 'answer');
  // With a class set, `unknown` is the set's; ImageNet's own answer is unknown only below the minimum score.
  if ((r.unknown && !r.custom) || !r.top1) {
    answer.append(el('span', 'top1 unknown', 'Unknown'));
    if (!best) return [answer];
    const why = `Best guess “${best.label}” at ${percent(best.probability)} is below the minimum score of ${percent(options.min_score)}.`;
    return [answer, el('p', 'explain', why)];
  }
  answer.append(el('span', 'top1', r.top1.label), el('span', 'top1-prob', percent(r.top1.probability)));
  const marine = r.top1.marine;
  if (!marine) return [answer, el('p', 'badge other', 'Not a marine animal class')];
  const badge = el('p', 'badge marine');
  badge.append(el('span', 'badge-group', `Marine · ${marine.group}`));
  // Only genus and species names are italic, by the codes of nomenclature.
  const italic = marine.taxon_rank === 'genus' || marine.taxon_rank === 'species';
  badge.append(' ', el(italic ? 'i' : 'span', 'badge-species', marine.scientific_name));
  return [answer, badge];
}

/** @param {Prediction[]} predictions */
function barsView(predictions) {
  const list = el('ol', 'bars');
  list.setAttribute('aria-label', `Top ${predictions.length} predictions`);
  for (const p of predictions) {
    const li = el('li', p.marine ? 'bar-row is-marine' : 'bar-row');
    const label = el('span', 'bar-label', p.label);
    if (p.marine) label.append(el('span', 'visually-hidden', ' (marine)'));
    label.title = p.marine?.scientific_name ? `${p.label} — ${p.marine.scientific_name}` : p.label;
    const track = el('span', 'bar-track');
    track.setAttribute('aria-hidden', 'true');
    const fill = el('span', 'bar-fill');
    fill.style.width = `${Math.max(0.5, Math.min(100, p.probability * 100))}%`;
    track.append(fill);
    li.append(label, el('span', 'bar-value', percent(p.probability)), track);
    list.append(li);
  }
  return list;
}

/**
 * Size, format, when and where the photo was taken.
 * @param {ClassificationResult['image'] | undefined} img
 */
function metaOf(img) {
  const meta = [];
  if (img) {
    meta.push(`${img.width} × ${img.height}${img.format ? ` ${img.format.toUpperCase()}` : ''}`);
    if (img.taken_at) meta.push(`taken ${img.taken_at.replace('T', ' ')}`);
    if (img.latitude !== null && img.longitude !== null && img.latitude !== undefined) {
      meta.push(`${img.latitude.toFixed(4)}, ${img.longitude.toFixed(4)}`);
    }
  }
  return meta;
}

/** @param {Entry} entry */
function errorView(entry) {
  const e = entry.error ?? { code: 'unknown_error', message: 'Something went wrong.' };
  const box = el('div', 'outcome error');
  box.append(el('p', 'error-title', 'Could not classify this image'));
  box.append(el('p', 'error-message', e.message));
  const code = el('p', 'error-code');
  code.append('Code: ', el('code', '', e.code));
  box.append(code);
  if (e.retryable) {
    const retry = el('button', 'button small', 'Try again');
    retry.type = 'button';
    retry.dataset.action = 'retry';
    box.append(retry);
  }
  return box;
}

/**
 * Keeps the counters in step with one entry's state, in O(1).
 * @param {Entry} entry
 */
function recount(entry) {
  const now = entry.state === 'done' ? 'done' : entry.state === 'error' ? 'error' : null;
  if (now === entry.counted) return;
  uncount(entry);
  if (now) counts.done++;
  if (now === 'error') counts.failed++;
  if (now === 'done' && entry.result?.top1?.marine) counts.marine++;
  entry.counted = now;
}

/** @param {Entry} entry */
function uncount(entry) {
  if (entry.counted) counts.done--;
  if (entry.counted === 'error') counts.failed--;
  if (entry.counted === 'done' && entry.result?.top1?.marine) counts.marine--;
  entry.counted = null;
}

/** @param {Entry} entry */
function removeEntry(entry) {
  entry.removed = true;
  uncount(entry);
  counts.total--;
  if (entry.objectUrl) URL.revokeObjectURL(entry.objectUrl);
  entry.objectUrl = null;
  entries.delete(entry.id);
  entry.card.remove();
  scheduleProgress();
}

els.grid.addEventListener('click', (event) => {
  const button = /** @type {HTMLElement} */ (event.target).closest('button');
  if (!button) return;
  const card = /** @type {HTMLElement | null} */ (button.closest('.card'));
  const entry = entries.get(Number(card?.dataset.id));
  if (!entry) return;
  if (button.classList.contains('remove')) {
    // Keep keyboard focus in the list: move to the next card's remove button, else the heading.
    const next = entry.card.nextElementSibling ?? entry.card.previousElementSibling;
    removeEntry(entry);
    /** @type {HTMLElement} */ (next?.querySelector('.remove') ?? els.heading).focus();
  } else if (button.dataset.action === 'retry') {
    uncount(entry);
    entry.error = undefined;
    entry.state = 'queued';
    renderState(entry);
    runner.add([entry], entry.options);
  }
});

// ---------------------------------------------------------------- progress

let progressFrame = 0;
function scheduleProgress() {
  if (!progressFrame) progressFrame = requestAnimationFrame(renderProgress);
}

function renderProgress() {
  progressFrame = 0;
  const { total, done, failed, marine } = counts;
  let text;
  if (total === 0) text = runner.paused ? 'Waiting for an API key.' : 'No images yet.';
  else {
    text = `${done}/${total} done`;
    if (marine > 0) text += ` · ${marine} marine`;
    if (failed > 0) text += ` · ${failed} failed`;
    if (done < total && runner.paused) text += ' · waiting for an API key';
  }
  if (els.progressText.textContent !== text) els.progressText.textContent = text;
  announce(total === 0 ? '' : text, total > 0 && done === total);
  els.progressBar.style.width = total ? `${(done / total) * 100}%` : '0%';
  /** @type {HTMLElement} */ (els.progressBar.parentElement).classList.toggle('complete', total > 0 && done === total);
  els.empty.hidden = total > 0 || videos.size > 0;
  els.downloadCsv.disabled = done === 0;
  els.downloadJson.disabled = done === 0;
  survey.setEnabled(done > counts.failed || [...videos].some((card) => card.finishedJobId));
  els.clear.disabled = total === 0 && videos.size === 0;
  if (total > 0 && done === total) showNotice('');
}

// The live region speaks the progress at most every few seconds (and at once when a batch is
// finished), so a screen reader is not flooded with "41/200 done", "42/200 done", ...
const ANNOUNCE_EVERY_MS = 3000;
let lastAnnounced = 0;
let announceTimer = 0;
let pendingAnnouncement = '';
/**
 * @param {string} text
 * @param {boolean} [now]
 */
function announce(text, now = false) {
  pendingAnnouncement = text;
  const wait = lastAnnounced + ANNOUNCE_EVERY_MS - Date.now();
  if (now || wait <= 0) {
    clearTimeout(announceTimer);
    announceTimer = 0;
    speak();
  } else if (!announceTimer) {
    announceTimer = window.setTimeout(() => {
      announceTimer = 0;
      speak();
    }, wait);
  }
}
function speak() {
  lastAnnounced = Date.now();
  if (els.progressLive.textContent !== pendingAnnouncement) els.progressLive.textContent = pendingAnnouncement;
}

let noticeTimer = 0;
/** @param {string} text */
function showNotice(text) {
  clearTimeout(noticeTimer);
  els.notice.textContent = text;
  if (text) noticeTimer = window.setTimeout(() => (els.notice.textContent = ''), 10_000);
}

// ---------------------------------------------------------------- downloads and clearing

function finishedReports() {
  /** @type {import('./report.js').ImageReport[]} */
  const reports = [];
  let topK = 0;
  let customTopK = 0;
  for (const entry of entries.values()) {
    if (entry.state !== 'done' && entry.state !== 'error') continue;
    reports.push({
      path: entry.name,
      result: entry.state === 'done' ? entry.result : undefined,
      error: entry.state === 'error' ? entry.error : undefined,
    });
    topK = Math.max(topK, entry.options.top_k);
    if (entry.options.class_set) customTopK = CUSTOM_TOP_K;
  }
  return { reports, topK: topK || readOptions().top_k, customTopK };
}

/** @param {number} count */
function downloadNote(count) {
  const pending = counts.total - counts.done;
  showNotice(pending > 0 ? `Downloaded ${count} finished images; ${pending} still in progress.` : '');
}

els.downloadCsv.addEventListener('click', () => {
  const { reports, topK, customTopK } = finishedReports();
  download(toCsv(reports, topK, customTopK), 'text/csv;charset=utf-8', `marine-classifier-${stamp()}.csv`);
  downloadNote(reports.length);
});
els.downloadJson.addEventListener('click', () => {
  const { reports } = finishedReports();
  download(toJson(reports), 'application/json', `marine-classifier-${stamp()}.json`);
  downloadNote(reports.length);
});

/**
 * The jobs whose photos are all finished (a survey export is made per job), and how many photos are not.
 * @returns {import('./survey-export.js').FinishedJobs}
 */
function finishedJobs() {
  /** @type {Map<string, boolean>} job id → all its photos on the page are finished */
  const jobs = new Map();
  for (const entry of entries.values()) {
    if (!entry.job) continue;
    const settled = entry.state === 'done' || entry.state === 'error';
    jobs.set(entry.job.id, (jobs.get(entry.job.id) ?? true) && settled);
  }
  const ids = [...jobs].filter(([, finished]) => finished).map(([id]) => id);
  // A finished video is a job of its own: one more package, its spans as event observations.
  for (const card of videos) if (card.finishedJobId) ids.push(card.finishedJobId);
  return { ids, pending: counts.total - counts.done };
}

els.clear.addEventListener('click', () => {
  runner.clear();
  for (const card of [...videos]) card.remove();
  for (const entry of entries.values()) {
    entry.removed = true;
    if (entry.objectUrl) URL.revokeObjectURL(entry.objectUrl);
  }
  entries.clear();
  els.grid.replaceChildren();
  counts.total = counts.done = counts.failed = counts.marine = 0;
  showNotice('');
  renderProgress();
  els.pickFiles.focus();
});

// ---------------------------------------------------------------- API key

/** @param {ItemError} error */
function showKeyForm(error) {
  els.keyMessage.textContent = apiKey
    ? 'The API key was not accepted. Check it and enter it again to continue.'
    : 'This service needs an API key. Enter it to continue; your images are waiting.';
  els.keyMessage.title = error.message;
  els.keyForm.hidden = false;
  els.keyInput.value = '';
  els.keyInput.focus();
  scheduleProgress();
}

els.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = els.keyInput.value.trim();
  if (!key) {
    els.keyInput.focus();
    return;
  }
  apiKey = key;
  try {
    sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    // see above
  }
  els.keyForm.hidden = true;
  runner.resume();
  void teach.refresh(); // a service that wants a key even to list class sets shows them now
  scheduleProgress();
});

renderProgress();
