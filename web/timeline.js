// A video's timeline strip and summary table, built from a finished video job's answer: one lane
// per class (or per marine group), its spans as buttons placed over a time axis in hh:mm:ss, and
// the summary per lane. Clicking a span or a best-frame cell calls `onFrame` with that frame.

/**
 * @typedef {import('./video-job.js').VideoAnswer} VideoAnswer
 * @typedef {import('./video-job.js').SummaryEntry} SummaryEntry
 * @typedef {import('./video-job.js').TimelineEntry} TimelineEntry
 * @typedef {import('./video-job.js').Span} Span
 * @typedef {'class'|'group'} Level
 * @typedef {{ label: string, level: Level, seconds: number, timecode: string, probability: number | null,
 *   span: Span | null }} FrameChoice
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

/** @param {number} seconds */
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** @param {number} p */
const percent = (p) => `${(p * 100).toFixed(1)}%`;

/**
 * The video's length on the strip: its duration, else the end of the last span or frame.
 * @param {VideoAnswer} answer
 */
export function lengthOf(answer) {
  let end = answer.video.duration ?? 0;
  for (const entry of [...answer.summary.classes, ...answer.summary.groups])
    for (const span of entry.spans) end = Math.max(end, span.end_seconds);
  const last = answer.timeline.at(-1);
  if (last) end = Math.max(end, last.seconds);
  return end > 0 ? end : 1;
}

/**
 * Axis ticks: a round step giving at most about eight of them.
 * @param {number} length seconds
 */
export function ticksOf(length) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  const step = steps.find((s) => length / s <= 8) ?? 7200;
  const ticks = [];
  for (let t = 0; t <= length + 1e-6; t += step) ticks.push(t);
  return ticks;
}

/**
 * A lane's score in one frame: the class's probability, or the best of its marine group's classes.
 * @param {TimelineEntry} frame
 * @param {string} label
 * @param {Level} level
 */
function scoreOf(frame, label, level) {
  let best = -1;
  for (const p of frame.predictions) {
    const match = level === 'class' ? p.label === label : p.marine?.group === label;
    if (match && p.probability > best) best = p.probability;
  }
  return best;
}

/**
 * The best frame within a span (the frame where the lane's score is highest), else the span's start.
 * @param {VideoAnswer} answer
 * @param {SummaryEntry} entry
 * @param {Level} level
 * @param {Span} span
 * @returns {FrameChoice}
 */
export function bestFrameOfSpan(answer, entry, level, span) {
  /** @type {TimelineEntry | null} */
  let best = null;
  let bestScore = -1;
  for (const frame of answer.timeline) {
    if (frame.seconds < span.start_seconds - 1e-3 || frame.seconds > span.end_seconds + 1e-3) continue;
    const score = scoreOf(frame, entry.label, level);
    if (score > bestScore) {
      best = frame;
      bestScore = score;
    }
  }
  // The whole entry's best frame wins where it falls in this span (smoothing may rank frames differently).
  if (entry.best_frame_seconds >= span.start_seconds - 1e-3 && entry.best_frame_seconds <= span.end_seconds + 1e-3)
    return {
      label: entry.label,
      level,
      seconds: entry.best_frame_seconds,
      timecode: entry.best_frame,
      probability: entry.best_probability,
      span,
    };
  if (!best)
    return { label: entry.label, level, seconds: span.start_seconds, timecode: span.start, probability: null, span };
  return { label: entry.label, level, seconds: best.seconds, timecode: best.timecode, probability: bestScore, span };
}

/**
 * The strip: one lane per entry, spans as buttons, a time axis under them.
 * @param {VideoAnswer} answer
 * @param {Level} level
 * @param {string} videoName
 * @param {(choice: FrameChoice) => void} onFrame
 */
export function stripView(answer, level, videoName, onFrame) {
  const entries = level === 'class' ? answer.summary.classes : answer.summary.groups;
  const length = lengthOf(answer);
  const strip = el('div', 'timeline');
  strip.setAttribute('role', 'group');
  strip.setAttribute('aria-label', `Timeline of ${videoName} by ${level === 'class' ? 'class' : 'marine group'}`);
  if (entries.length === 0) {
    strip.append(
      el(
        'p',
        'timeline-empty',
        level === 'class'
          ? 'No class is the answer in enough frames to be listed.'
          : 'No marine group is the answer in enough frames to be listed.',
      ),
    );
    return strip;
  }
  const position = (/** @type {number} */ seconds) => `${Math.min(100, (seconds / length) * 100)}%`;
  entries.forEach((entry, i) => {
    const lane = el('div', 'lane');
    lane.setAttribute('role', 'group');
    const summary = `${entry.appearances} ${entry.appearances === 1 ? 'appearance' : 'appearances'}, ${entry.seconds_on_screen.toFixed(1)} s on screen`;
    lane.setAttribute('aria-label', `${entry.label}: ${summary}`);
    lane.dataset.label = entry.label;
    // Golden-angle hues: neighbouring lanes never share a colour.
    lane.style.setProperty('--lane-hue', String(Math.round((i * 137.5 + 200) % 360)));
    const name = el('span', 'lane-label', entry.label);
    name.title = `${entry.label}: ${summary}`;
    const track = el('div', 'lane-track');
    for (const span of entry.spans) {
      const button = el('button', 'span');
      button.type = 'button';
      button.style.left = position(span.start_seconds);
      // At least a sliver, so that a one-frame span can still be seen and clicked.
      button.style.width = `max(6px, calc(${position(span.end_seconds)} - ${position(span.start_seconds)}))`;
      button.setAttribute('aria-label', `${entry.label} from ${span.start} to ${span.end}: show its best frame`);
      button.title = `${entry.label} ${span.start}–${span.end}`;
      button.addEventListener('click', () => onFrame(bestFrameOfSpan(answer, entry, level, span)));
      track.append(button);
    }
    lane.append(name, track);
    strip.append(lane);
  });
  const axis = el('div', 'axis');
  axis.setAttribute('aria-hidden', 'true');
  const ticks = el('div', 'axis-track');
  for (const t of ticksOf(length)) {
    const tick = el('span', 'tick', clock(t));
    tick.style.left = position(t);
    // The first label starts at its tick and one at the very end ends at it, so neither leaves the strip.
    if (t === 0) tick.classList.add('at-start');
    else if (t / length > 0.95) tick.classList.add('at-end');
    ticks.append(tick);
  }
  axis.append(el('span', 'lane-label'), ticks);
  strip.append(axis);
  return strip;
}

/**
 * The summary table for one level.
 * @param {VideoAnswer} answer
 * @param {Level} level
 * @param {(choice: FrameChoice) => void} onFrame
 */
export function summaryTable(answer, level, onFrame) {
  const entries = level === 'class' ? answer.summary.classes : answer.summary.groups;
  const table = el('table', 'summary-table');
  table.append(el('caption', '', level === 'class' ? 'Summary by class' : 'Summary by marine group'));
  const head = el('tr');
  const columns = [
    level === 'class' ? 'Class' : 'Marine group',
    ...(level === 'class' ? ['Marine group'] : []),
    'First seen',
    'Last seen',
    'Seconds on screen',
    'Appearances',
    'Best',
    'Mean',
    'Best frame',
  ];
  for (const name of columns) {
    const th = el('th', '', name);
    th.scope = 'col';
    head.append(th);
  }
  const thead = el('thead');
  thead.append(head);
  const tbody = el('tbody');
  for (const entry of entries) {
    const row = el('tr');
    const label = el('th', '', entry.label);
    label.scope = 'row';
    row.append(label);
    if (level === 'class') row.append(el('td', '', entry.group ?? '—'));
    for (const value of [
      entry.first_seen,
      entry.last_seen,
      entry.seconds_on_screen.toFixed(1),
      String(entry.appearances),
      percent(entry.best_probability),
      percent(entry.mean_probability),
    ])
      row.append(el('td', '', value));
    const cell = el('td');
    const button = el('button', 'link-button', entry.best_frame);
    button.type = 'button';
    button.setAttribute('aria-label', `Show the best frame of ${entry.label}, at ${entry.best_frame}`);
    button.addEventListener('click', () =>
      onFrame({
        label: entry.label,
        level,
        seconds: entry.best_frame_seconds,
        timecode: entry.best_frame,
        probability: entry.best_probability,
        span: null,
      }),
    );
    cell.append(button);
    row.append(cell);
    tbody.append(row);
  }
  table.append(thead, tbody);
  return table;
}
