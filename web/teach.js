// The Teach panel: make a class set, give it labelled photos (a folder with one sub-folder per
// species, or photos dropped onto a label), see its labels with counts and thumbnails, evaluate it,
// delete labels or the set, and choose it for classifying. The requests live in class-sets.js.
//
// Thumbnails are the user's own dropped files, kept in this tab only (the service keeps no
// photos, just their embeddings): a label taught elsewhere shows its count alone.

import { ApiError, createClassSetsClient, examplesFromFolder } from './class-sets.js';
import { filesBelow } from './dropped-files.js';

/**
 * @typedef {import('./class-sets.js').ClassSetView} ClassSetView
 * @typedef {import('./class-sets.js').Evaluation} Evaluation
 * @typedef {import('./class-sets.js').Example} Example
 * @typedef {import('./class-sets.js').ExamplesAnswer} ExamplesAnswer
 * @typedef {import('./jobs.js').ItemError} ItemError
 */

const IMAGE_NAME = /\.(jpe?g|jfif|png|webp|gif|tiff?|avif)$/i;
const THUMBS_PER_LABEL = 4;

/** @param {File} file */
const isImage = (file) => file.type.startsWith('image/') || IMAGE_NAME.test(file.name);

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

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

/** @param {number | null | undefined} p a fraction */
const pct = (p) => (typeof p === 'number' ? `${(p * 100).toFixed(1)}%` : '—');
/** @param {number} n */
const photos = (n) => `${n} ${n === 1 ? 'photo' : 'photos'}`;

/**
 * Files of a drop: folders with their paths, loose files without. Taken before the first await
 * (a DataTransfer empties afterwards).
 * @param {DataTransfer} transfer
 */
async function droppedFiles(transfer) {
  const entries = [...transfer.items]
    .filter((i) => i.kind === 'file')
    .map((i) => ({
      entry: typeof i.webkitGetAsEntry === 'function' ? i.webkitGetAsEntry() : null,
      file: i.getAsFile(),
    }));
  const plain = [...transfer.files];
  /** @type {{ file: File, path: string }[]} */
  const inFolders = [];
  /** @type {File[]} */
  const loose = [];
  if (!entries.some((e) => e.entry?.isDirectory)) return { inFolders, loose: plain };
  for (const { entry, file } of entries) {
    if (entry?.isDirectory) await filesBelow(entry, inFolders);
    else if (file) loose.push(file);
  }
  return { inFolders, loose };
}

/**
 * Sets up the panel.
 * @param {{ baseUrl: string, getApiKey: () => string, onAuthRequired: (error: ItemError) => void,
 *   onSetsChanged: (names: string[]) => void, onUse: (name: string) => void }} config
 */
export function createTeachPanel(config) {
  const client = createClassSetsClient({ baseUrl: config.baseUrl, getApiKey: config.getApiKey });
  const els = {
    panel: $('teach'),
    unavailable: $('teach-unavailable'),
    createForm: /** @type {HTMLFormElement} */ ($('teach-create-form')),
    newName: /** @type {HTMLInputElement} */ ($('teach-new-name')),
    createError: $('teach-create-error'),
    setSelect: /** @type {HTMLSelectElement} */ ($('teach-set')),
    body: $('teach-body'),
    drop: $('teach-drop'),
    pickFolder: /** @type {HTMLButtonElement} */ ($('teach-pick-folder')),
    folderInput: /** @type {HTMLInputElement} */ ($('teach-folder-input')),
    labelForm: /** @type {HTMLFormElement} */ ($('teach-label-form')),
    labelInput: /** @type {HTMLInputElement} */ ($('teach-label')),
    filesInput: /** @type {HTMLInputElement} */ ($('teach-files-input')),
    progress: /** @type {HTMLProgressElement} */ ($('teach-progress')),
    uploadStatus: $('teach-upload-status'),
    uploadError: $('teach-upload-error'),
    summary: $('teach-summary'),
    use: /** @type {HTMLButtonElement} */ ($('teach-use')),
    evaluate: /** @type {HTMLButtonElement} */ ($('teach-evaluate')),
    deleteSet: /** @type {HTMLButtonElement} */ ($('teach-delete-set')),
    setError: $('teach-set-error'),
    labels: $('teach-labels'),
    evaluation: $('teach-eval'),
  };

  /** @type {ClassSetView[]} */
  let sets = [];
  /** @type {ClassSetView | null} */
  let current = null;
  let uploading = false;
  /** Label the next files from the picker go to (the label form's, or a label row's "Add photos"). */
  let pickLabel = '';
  /** @type {Map<string, Map<string, string[]>>} set -> label -> object URLs of the user's own photos */
  const thumbs = new Map();

  /**
   * Shows an action's failure in that action's place; an API key refusal also opens the key form.
   * @param {HTMLElement} where
   * @param {unknown} err
   * @param {boolean} [askForKey] false: a refusal on opening the page does not pop up the key form
   */
  function fail(where, err, askForKey = true) {
    const e = err instanceof ApiError ? err : new ApiError({ code: 'client_error', message: String(err) });
    if ((e.status === 401 || e.status === 403) && askForKey) {
      config.onAuthRequired({ code: e.code, message: e.message, status: e.status });
      where.textContent = `${e.message} Enter the API key above, then try again.`;
    } else where.textContent = e.message;
  }

  /** @param {string} set */
  function thumbsOf(set) {
    const map = thumbs.get(set) ?? new Map();
    thumbs.set(set, map);
    return map;
  }

  /**
   * @param {string} set
   * @param {string | null} label null: every label of the set
   */
  function dropThumbs(set, label) {
    const map = thumbs.get(set);
    if (!map) return;
    for (const [name, urls] of map) {
      if (label !== null && name !== label) continue;
      for (const url of urls) URL.revokeObjectURL(url);
      map.delete(name);
    }
  }

  // ------------------------------------------------------------ sets

  /**
   * @param {string | null} [select] the set to show afterwards
   * @param {boolean} [askForKey]
   */
  async function refresh(select, askForKey = true) {
    try {
      sets = await client.list();
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
        // An older service, or one without class sets: say so instead of offering buttons that fail.
        els.unavailable.hidden = false;
        els.createForm.hidden = true;
        els.setSelect.parentElement?.setAttribute('hidden', '');
        return;
      }
      // On opening the page, a service that wants a key even to list sets waits quietly for one:
      // the first teaching action (or the first images) asks for it, and then the list loads.
      const refused = err instanceof ApiError && (err.status === 401 || err.status === 403);
      if (askForKey || !refused) fail(els.createError, err, askForKey);
      return;
    }
    els.createError.textContent = '';
    const wanted = select === undefined ? (current?.name ?? null) : select;
    els.setSelect.replaceChildren(new Option(sets.length ? 'Choose a set…' : 'No sets yet', ''));
    for (const s of sets) els.setSelect.append(new Option(s.name, s.name));
    els.setSelect.disabled = sets.length === 0;
    const found = sets.find((s) => s.name === wanted) ?? null;
    els.setSelect.value = found?.name ?? '';
    config.onSetsChanged(sets.map((s) => s.name));
    show(found);
  }

  /** @param {ClassSetView | null} view */
  function show(view) {
    const changed = view?.name !== current?.name;
    current = view;
    els.body.hidden = !view;
    if (changed) {
      els.evaluation.replaceChildren();
      els.setError.textContent = '';
      els.uploadError.textContent = '';
      els.uploadStatus.textContent = '';
      els.progress.hidden = true;
    }
    if (!view) return;
    const i = sets.findIndex((s) => s.name === view.name);
    if (i >= 0) sets[i] = view;
    const labels = view.labels.length;
    els.summary.textContent = `${labels} ${labels === 1 ? 'label' : 'labels'} · ${photos(view.examples)}${
      view.model ? ` · ${view.model.id}` : ''
    }`;
    renderLabels(view);
  }

  els.createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = els.newName.value.trim();
    if (!name) {
      els.createError.textContent = 'Give the set a name, such as “reef-fish”.';
      els.newName.setAttribute('aria-invalid', 'true');
      els.newName.focus();
      return;
    }
    els.createError.textContent = '';
    els.newName.removeAttribute('aria-invalid');
    try {
      await client.create(name);
    } catch (err) {
      els.newName.setAttribute('aria-invalid', 'true');
      fail(els.createError, err);
      return;
    }
    els.newName.value = '';
    await refresh(name);
    els.pickFolder.focus();
  });

  // A field's error goes as soon as the user changes what caused it.
  els.newName.addEventListener('input', () => {
    els.createError.textContent = '';
    els.newName.removeAttribute('aria-invalid');
  });
  els.labelInput.addEventListener('input', () => els.labelInput.removeAttribute('aria-invalid'));

  els.setSelect.addEventListener('change', async () => {
    const name = els.setSelect.value;
    if (!name) return show(null);
    show(sets.find((s) => s.name === name) ?? null);
    try {
      show((await client.show(name)).set);
    } catch (err) {
      fail(els.setError, err);
    }
  });

  els.use.addEventListener('click', () => {
    if (!current) return;
    config.onUse(current.name);
    els.setError.textContent = '';
    els.uploadStatus.textContent = `New images are classified with “${current.name}”.`;
  });

  els.deleteSet.addEventListener('click', async () => {
    if (!current) return;
    const name = current.name;
    if (!confirm(`Delete the class set “${name}” and all its examples?`)) return;
    try {
      await client.remove(name);
    } catch (err) {
      fail(els.setError, err);
      return;
    }
    dropThumbs(name, null);
    thumbs.delete(name);
    await refresh(null);
    els.newName.focus();
  });

  // ------------------------------------------------------------ labels

  /** @param {ClassSetView} view */
  function renderLabels(view) {
    const local = thumbs.get(view.name);
    const items = view.labels.map(({ label, count }) => {
      const li = el('li', 'teach-label');
      li.dataset.label = label;
      const urls = local?.get(label) ?? [];
      if (urls.length > 0) {
        const strip = el('div', 'teach-thumbs');
        strip.setAttribute('aria-hidden', 'true');
        for (const url of urls) {
          const img = el('img', 'teach-thumb');
          img.src = url;
          img.alt = '';
          img.decoding = 'async';
          strip.append(img);
        }
        li.append(strip);
      }
      const head = el('div', 'teach-label-head');
      const name = el('h4', 'teach-label-name', label);
      name.title = label;
      head.append(name, el('span', 'teach-count', photos(count)));
      const actions = el('div', 'teach-label-actions');
      const add = el('button', 'button small', 'Add photos');
      add.type = 'button';
      add.dataset.action = 'add';
      add.setAttribute('aria-label', `Add photos to ${label}`);
      const del = el('button', 'button small subtle', 'Delete');
      del.type = 'button';
      del.dataset.action = 'delete';
      del.setAttribute('aria-label', `Delete label ${label}`);
      actions.append(add, del);
      li.append(head, actions);
      return li;
    });
    els.labels.replaceChildren(...items);
    if (items.length === 0)
      els.labels.append(el('li', 'teach-empty', 'No labels yet: drop a folder or add photos to a label.'));
  }

  els.labels.addEventListener('click', async (event) => {
    const button = /** @type {HTMLElement} */ (event.target).closest('button');
    const label = /** @type {HTMLElement | null} */ (button?.closest('.teach-label'))?.dataset.label;
    if (!button || label === undefined || !current) return;
    if (button.dataset.action === 'add') {
      pickLabel = label;
      els.filesInput.click();
      return;
    }
    if (button.dataset.action !== 'delete') return;
    if (!confirm(`Delete the label “${label}” and its examples from “${current.name}”?`)) return;
    const name = current.name;
    try {
      const view = await client.removeLabel(name, label);
      dropThumbs(name, label);
      els.evaluation.replaceChildren();
      show(view);
      els.evaluate.focus();
    } catch (err) {
      fail(els.setError, err);
    }
  });

  // Photos dropped onto a label row go to that label.
  els.labels.addEventListener('dragover', (event) => {
    const row = /** @type {HTMLElement} */ (event.target).closest('.teach-label');
    if (!row) return;
    event.preventDefault();
    event.stopPropagation();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    row.classList.add('dragging');
  });
  els.labels.addEventListener('dragleave', (event) => {
    /** @type {HTMLElement} */ (event.target).closest('.teach-label')?.classList.remove('dragging');
  });
  els.labels.addEventListener('drop', async (event) => {
    const row = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest('.teach-label'));
    if (!row || !event.dataTransfer) return;
    event.preventDefault();
    event.stopPropagation();
    row.classList.remove('dragging');
    const label = row.dataset.label ?? '';
    const { inFolders, loose } = await droppedFiles(event.dataTransfer);
    const files = [...loose, ...inFolders.map((f) => f.file)];
    await upload(
      files.filter(isImage).map((file) => ({ label, file })),
      files.length,
    );
  });

  // ------------------------------------------------------------ adding photos

  els.pickFolder.addEventListener('click', () => els.folderInput.click());
  els.folderInput.addEventListener('change', async () => {
    const files = [...(els.folderInput.files ?? [])];
    els.folderInput.value = '';
    await uploadFolder(files.map((file) => ({ file, path: file.webkitRelativePath || file.name })));
  });

  els.labelForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const label = els.labelInput.value.trim();
    if (!label) {
      els.uploadError.textContent = 'Type the label (the species name) first.';
      els.labelInput.setAttribute('aria-invalid', 'true');
      els.labelInput.focus();
      return;
    }
    els.labelInput.removeAttribute('aria-invalid');
    pickLabel = label;
    els.filesInput.click();
  });
  els.filesInput.addEventListener('change', async () => {
    const files = [...(els.filesInput.files ?? [])];
    els.filesInput.value = '';
    if (files.length > 0)
      await upload(
        files.filter(isImage).map((file) => ({ label: pickLabel, file })),
        files.length,
      );
  });

  // A folder (or several species folders) dropped on the panel's drop zone.
  for (const type of ['dragenter', 'dragover']) {
    els.drop.addEventListener(type, (event) => {
      event.preventDefault();
      event.stopPropagation();
      const drag = /** @type {DragEvent} */ (event);
      if (drag.dataTransfer) drag.dataTransfer.dropEffect = 'copy';
      els.drop.classList.add('dragging');
    });
  }
  els.drop.addEventListener('dragleave', () => els.drop.classList.remove('dragging'));
  els.drop.addEventListener('drop', async (event) => {
    event.preventDefault();
    event.stopPropagation();
    els.drop.classList.remove('dragging');
    if (!event.dataTransfer) return;
    const { inFolders, loose } = await droppedFiles(event.dataTransfer);
    const label = els.labelInput.value.trim();
    if (loose.length > 0 && inFolders.length === 0) {
      if (!label) {
        els.uploadError.textContent =
          'Loose photos need a label: drop them onto a label below, or type the label first. A folder’s sub-folders name their labels.';
        return;
      }
      await upload(
        loose.filter(isImage).map((file) => ({ label, file })),
        loose.length,
      );
      return;
    }
    await uploadFolder(inFolders.map(({ file, path }) => ({ file, path: path.replace(/^\//, '') })));
  });

  /** @param {{ file: File, path: string }[]} files */
  async function uploadFolder(files) {
    if (files.length === 0) {
      els.uploadError.textContent = 'That folder is empty.';
      return;
    }
    const { examples, ignored } = examplesFromFolder(files);
    const images = examples.filter((e) => isImage(e.file));
    const note =
      ignored > 0 ? ` ${ignored} ${ignored === 1 ? 'file' : 'files'} beside the sub-folders had no label.` : '';
    await upload(images, files.length - ignored, note);
  }

  /**
   * Uploads examples with a progress bar; then shows the set's new counts and what was skipped.
   * @param {Example[]} examples
   * @param {number} offered files offered, images or not
   * @param {string} [note] said after the outcome
   */
  async function upload(examples, offered, note = '') {
    if (!current) return;
    if (uploading) {
      els.uploadError.textContent = 'Wait for the upload in progress to finish, then add these photos again.';
      return;
    }
    const name = current.name;
    els.uploadError.textContent = '';
    const notImages = offered - examples.length;
    if (examples.length === 0) {
      els.uploadError.textContent = 'No photos there: only JPEG, PNG, WebP, GIF, TIFF or AVIF files are examples.';
      return;
    }
    uploading = true;
    setBusy(true);
    els.progress.hidden = false;
    els.progress.max = examples.length;
    els.progress.value = 0;
    /** @type {ExamplesAnswer | null} */
    let answer = null;
    try {
      answer = await client.addExamples(name, examples, {
        onProgress: ({ done, total }) => {
          els.progress.value = done;
          els.uploadStatus.textContent = `Uploading ${done}/${total} photos…`;
        },
      });
    } catch (err) {
      fail(els.uploadError, err);
      els.uploadStatus.textContent = '';
    } finally {
      uploading = false;
      setBusy(false);
      els.progress.hidden = true;
    }
    // Whatever landed (even when a later chunk failed) is on the service: show its counts.
    if (!answer) {
      await refreshCurrent(name);
      return;
    }
    keepThumbs(name, examples, answer);
    els.uploadStatus.textContent = outcome(answer, notImages) + note;
    els.evaluation.replaceChildren();
    if (current?.name === name) show(answer.set);
  }

  /** @param {string} name */
  async function refreshCurrent(name) {
    try {
      const { set } = await client.show(name);
      if (current?.name === name) show(set);
    } catch {
      // the upload's own error is already shown
    }
  }

  /**
   * What an upload did, in one sentence or three.
   * @param {ExamplesAnswer} answer
   * @param {number} notImages
   */
  function outcome(answer, notImages) {
    const parts = [`Added ${photos(answer.added)}.`];
    const dup = answer.duplicates.length;
    if (dup > 0) {
      const first = answer.duplicates[0];
      parts.push(
        `${dup} ${dup === 1 ? 'was a duplicate' : 'were duplicates'} (counted once: ${first.source} is already under “${first.existing_label}”${dup > 1 ? ', …' : ''}).`,
      );
    }
    const skipped = answer.skipped.length + notImages;
    if (skipped > 0) {
      const why = answer.skipped[0]
        ? `: ${answer.skipped[0].source}: ${answer.skipped[0].error.message}`
        : ' (not images)';
      parts.push(`Skipped ${skipped}${why}${skipped > 1 && answer.skipped[0] ? ', …' : ''}`);
    }
    return parts.join(' ');
  }

  /**
   * Keeps a few of the user's accepted photos per label as thumbnails (object URLs, this tab only).
   * @param {string} name
   * @param {Example[]} examples
   * @param {ExamplesAnswer} answer
   */
  function keepThumbs(name, examples, answer) {
    const refused = new Set(answer.skipped.map((s) => s.source));
    const map = thumbsOf(name);
    for (const { label, file } of examples) {
      if (refused.has(file.name)) continue;
      const urls = map.get(label) ?? [];
      if (urls.length >= THUMBS_PER_LABEL) continue;
      urls.push(URL.createObjectURL(file));
      map.set(label, urls);
    }
  }

  /** @param {boolean} busy */
  function setBusy(busy) {
    for (const b of [els.pickFolder, els.use, els.evaluate, els.deleteSet]) b.disabled = busy;
    els.setSelect.disabled = busy || sets.length === 0;
    els.panel.setAttribute('aria-busy', String(busy));
  }

  // ------------------------------------------------------------ evaluation

  els.evaluate.addEventListener('click', async () => {
    if (!current) return;
    const name = current.name;
    els.setError.textContent = '';
    els.evaluate.disabled = true;
    const waiting = el('p', 'teach-eval-wait', 'Evaluating…');
    els.evaluation.replaceChildren(waiting);
    try {
      const { set, evaluation } = await client.show(name, true);
      if (current?.name !== name) return;
      show(set);
      els.evaluation.replaceChildren(...evaluationViews(evaluation));
    } catch (err) {
      els.evaluation.replaceChildren();
      fail(els.setError, err);
    } finally {
      els.evaluate.disabled = false;
    }
  });

  /** @param {Evaluation | null} ev */
  function evaluationViews(ev) {
    const heading = el('h3', 'teach-eval-heading', 'How good is this set?');
    if (!ev)
      return [heading, el('p', 'hint', 'Not enough photos to evaluate: give at least two labels two photos each.')];
    const scores = el('dl', 'teach-scores');
    /** @type {[string, string][]} */
    const figures = [
      ['Top-1 accuracy', pct(ev.top1)],
      ['Top-3 accuracy', pct(ev.top3)],
    ];
    if (typeof ev.calibrated_threshold === 'number')
      figures.push(['Unknown below similarity', ev.calibrated_threshold.toFixed(2)]);
    for (const [term, value] of figures) {
      const row = el('div');
      row.append(el('dt', '', term), el('dd', '', value));
      scores.append(row);
    }
    const how =
      ev.method === 'leave-one-out'
        ? 'Measured on the set’s own photos, each left out in turn and answered by the others.'
        : `Measured on the set’s own photos: ${ev.splits ?? 'several'} random splits, fitting on ${
            ev.shots ?? 'some'
          } photos per label and answering the rest.`;
    const views = [heading, scores, el('p', 'hint', how)];

    const needMore = ev.labels.filter((l) => l.needs_more_photos).map((l) => l.label);
    if (needMore.length > 0) views.push(el('p', 'teach-needs', `Needs more photos: ${needMore.join(', ')}.`));
    if (ev.warnings.length > 0) {
      const list = el('ul', 'teach-warnings');
      list.setAttribute('aria-label', 'Warnings');
      for (const w of ev.warnings) list.append(el('li', '', w));
      views.push(list);
    }
    views.push(labelTable(ev), confusionTable(ev));
    return views;
  }

  let tableIds = 0;
  /**
   * A titled table that scrolls sideways on its own on a narrow screen (reachable by keyboard);
   * the title stays outside the scrolling box so that it is always readable.
   * @param {HTMLTableElement} table
   * @param {string} title
   */
  function titled(table, title) {
    const id = `teach-table-${++tableIds}`;
    const name = el('p', 'table-title', title);
    name.id = id;
    table.setAttribute('aria-labelledby', id);
    const box = el('div', 'table-scroll');
    box.tabIndex = 0;
    box.setAttribute('role', 'region');
    box.setAttribute('aria-labelledby', id);
    box.append(table);
    const figure = el('div', 'table-box');
    figure.append(name, box);
    return figure;
  }

  /** @param {Evaluation} ev */
  function labelTable(ev) {
    const table = el('table', 'teach-table teach-per-label');
    const head = table.createTHead().insertRow();
    // In K-shot splits a label's count is the photos fitted on in each split, not all of its photos.
    const photosHead = ev.method === 'splits' ? 'Fitted on' : 'Photos';
    for (const h of ['Label', photosHead, 'Precision', 'Recall', '']) {
      const th = el('th', '', h);
      th.scope = 'col';
      head.append(th);
    }
    const body = table.createTBody();
    for (const l of ev.labels) {
      const row = body.insertRow();
      const th = el('th', '', l.label);
      th.scope = 'row';
      row.append(th);
      row.insertCell().textContent = String(l.count);
      row.insertCell().textContent = pct(l.precision);
      row.insertCell().textContent = pct(l.recall);
      const flag = row.insertCell();
      if (l.needs_more_photos) flag.append(el('span', 'tag warn', 'needs more photos'));
    }
    return titled(table, 'Per label');
  }

  /** @param {Evaluation} ev */
  function confusionTable(ev) {
    const { labels, matrix } = ev.confusion;
    const table = el('table', 'teach-table confusion');
    const head = table.createTHead().insertRow();
    const corner = el('td', 'corner');
    head.append(corner);
    for (const label of labels) {
      const th = el('th', '', label);
      th.scope = 'col';
      head.append(th);
    }
    const body = table.createTBody();
    for (const [i, label] of labels.entries()) {
      const row = body.insertRow();
      const th = el('th', '', label);
      th.scope = 'row';
      row.append(th);
      for (const [j, n] of (matrix[i] ?? []).entries()) {
        const cell = row.insertCell();
        cell.textContent = String(n);
        if (i === j) cell.className = 'hit';
        else if (n > 0) cell.className = 'miss';
      }
    }
    return titled(table, 'Confusion matrix: rows are the true label, columns what the set answered');
  }

  void refresh(undefined, false);
  return {
    /** Reloads the list of sets (after an API key was entered, say). */
    refresh: () => refresh(),
  };
}
