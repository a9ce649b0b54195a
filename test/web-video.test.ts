/**
 * Videos on the web page (web/video-*.js, timeline.js, best-frame.js) in Debian's Chromium against
 * the real service, model and ffmpeg: a dropped clip's progress, timeline lanes by class and by
 * marine group, the best frame of a clicked span drawn from the dropped file, the summary table,
 * the CSV downloads in the CLI's columns, cancelling a running video, and photos dropped alongside.
 *
 * Uploads of videos to POST /jobs are being built beside this page (h16upload). Until the service
 * takes them, the tests that follow a page through a whole video send the page's upload on as the
 * `video_path` job the service already runs (the same clip, copied into IMAGE_ROOT): only the
 * request body is rewritten in transit, and the page, service, model and ffmpeg are all real. The
 * test of the upload itself is skipped while the service answers 415/400 to a video body.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { chromium, type Browser, type Page } from 'playwright-core';
import { csvColumns, csvRow, framePath } from '../src/cli/report-rows.ts';
import { SUMMARY_COLUMNS, openSummaryWriter } from '../src/cli/video-outputs.ts';
import { classifyVideo, type VideoResult } from '../src/engine/video/classify-video.ts';
import { serviceConfig, startService, type RunningService } from '../src/http/index.ts';
import type { JobRecord } from '../src/queue/types.ts';
import { REPO_ROOT, SHARK_PHOTO, TEST_MODEL, sharedPath } from './helpers/shared.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLIP = sharedPath('videos', 'pealayer-jellyfish.mp4');
const CLIP_NAME = 'pealayer-jellyfish.mp4';
const LIMIT = { timeout: 120_000 };
const ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts');

let service: RunningService;
let browser: Browser;
let root: string;
const pageErrors: string[] = [];

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'marine-web-video-'));
  copyFileSync(CLIP, path.join(root, CLIP_NAME));
  // 40 s of test pattern: at 25 frames/s sampling, long enough to be cancelled mid-way.
  execFileSync('/usr/bin/ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=40'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path.join(root, 'long.mp4')],
  ]);
  // A shark photo as 3 s of MPEG-4 Part 2, a codec ffmpeg decodes and Chromium does not play.
  execFileSync('/usr/bin/ffmpeg', [
    ...['-v', 'error', '-y', '-loop', '1', '-i', SHARK_PHOTO, '-t', '3', '-r', '25', '-vf', 'scale=320:-2'],
    ...['-c:v', 'mpeg4', '-pix_fmt', 'yuv420p', path.join(root, 'shark-mpeg4.mp4')],
  ]);
  service = await startService(
    serviceConfig({
      host: '127.0.0.1',
      port: 0,
      logLevel: 'error',
      webRoot: path.join(REPO_ROOT, 'web'),
      imageRoot: root,
      apiKeys: [],
      rateLimitMax: 0,
      engine: { modelPath: TEST_MODEL },
    }),
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  await service?.close();
  if (root) await rm(root, { recursive: true, force: true });
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${service.url}/`);
  return page;
}

/** A video upload as the page sent it. */
interface Upload {
  contentType: string;
  query: string;
}

/** Drops files onto the drop zone as a user would (a DataTransfer of File objects). */
async function dropFiles(page: Page, files: { file: string; name: string; type: string }[]): Promise<void> {
  const payload = await Promise.all(
    files.map(async (f) => ({ name: f.name, type: f.type, b64: (await readFile(f.file)).toString('base64') })),
  );
  await page.evaluate((items) => {
    const drop = new DataTransfer();
    for (const item of items)
      drop.items.add(
        new File([Uint8Array.from(atob(item.b64), (c) => c.charCodeAt(0))], item.name, { type: item.type }),
      );
    const zone = document.getElementById('drop-zone')!;
    zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: drop, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
  }, payload);
}

async function downloadText(page: Page, name: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name }).click()]);
  return readFile(await download.path(), 'utf8');
}

/** The whole path of a dropped clip, from drop to CSV; `how` says whether the upload went as itself. */
async function dropClipAndCheck(page: Page): Promise<void> {
  await dropFiles(page, [
    { file: CLIP, name: CLIP_NAME, type: 'video/mp4' },
    { file: SHARK_PHOTO, name: 'shark-beside-video.jpg', type: 'image/jpeg' },
  ]);
  const card = page.locator('.video-card', { hasText: CLIP_NAME });
  await card.waitFor();
  await page.waitForFunction(
    () => document.querySelector('.video-card')?.getAttribute('data-state') === 'done',
    undefined,
    { timeout: 90_000 },
  );

  // The photo dropped with it is a card of its own, classified as before.
  await page.waitForFunction(() => document.getElementById('progress-text')?.textContent?.startsWith('1/1 done'));
  const photo = page.locator('.card', { hasText: 'shark-beside-video.jpg' });
  assert.equal(((await photo.locator('.top1').textContent()) ?? '').trim(), 'great white shark');

  const jobId = (await card.getAttribute('data-job')) ?? '';
  const job = (await (await fetch(`${service.url}/jobs/${jobId}`)).json()) as JobRecord;
  assert.equal(job.kind, 'video');
  const answer = job.video!;

  // Lanes by class: jellyfish among them, labelled for screen readers, spans as labelled buttons.
  const lane = card.locator('.lane[data-label="jellyfish"]');
  assert.match((await lane.getAttribute('aria-label')) ?? '', /^jellyfish: \d+ appearances?, [\d.]+ s on screen$/);
  const lanes = await card.locator('.lane').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label));
  assert.deepEqual(
    lanes,
    answer.summary.classes.map((e) => e.label),
  );
  const span = lane.getByRole('button', { name: /^jellyfish from 00:00:\d\d\.\d{3} to 00:00:\d\d\.\d{3}/ }).first();
  const ticks = await card.locator('.tick').allTextContents();
  assert.equal(ticks[0], '00:00:00');
  assert.ok(ticks.includes('00:00:10') || ticks.includes('00:00:05'), ticks.join(' '));

  // The best frame of the span, drawn from the dropped file: real pixels, not a blank canvas.
  await span.click();
  const figure = card.locator('.best-frame');
  await page.waitForFunction(() => {
    const state = document.querySelector('.best-frame')?.getAttribute('data-state');
    return state === 'drawn' || state === 'no-picture';
  });
  assert.equal(await figure.getAttribute('data-state'), 'drawn', 'Debian’s Chromium plays H.264 MP4');
  const pixels = await figure.locator('canvas').evaluate((canvas) => {
    const c = canvas as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    const seen = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] + data[i + 1] + data[i + 2] > 90) lit++;
      seen.add((data[i] >> 4) * 256 + (data[i + 1] >> 4) * 16 + (data[i + 2] >> 4));
    }
    return { width: c.width, height: c.height, lit: lit / (data.length / 4), colours: seen.size };
  });
  assert.equal(pixels.width, 1280);
  assert.equal(pixels.height, 720);
  assert.ok(pixels.lit > 0.01 && pixels.colours > 50, JSON.stringify(pixels));
  assert.match((await figure.locator('figcaption').textContent()) ?? '', /^Best frame of jellyfish \(span /);

  // The summary table by class, then the lanes and table by marine group.
  const row = card.locator('.summary-table tbody tr', { has: page.locator('th', { hasText: /^jellyfish$/ }) });
  const jelly = answer.summary.classes.find((e) => e.label === 'jellyfish')!;
  const cells = await row.locator('td').allTextContents();
  assert.deepEqual(cells.slice(1, 4), [jelly.first_seen, jelly.last_seen, jelly.seconds_on_screen.toFixed(1)]);
  assert.equal(cells.at(-1), jelly.best_frame);
  await card.getByRole('radio', { name: 'By marine group' }).check();
  assert.equal(await card.locator('.summary-table caption').textContent(), 'Summary by marine group');
  const groupLanes = await card.locator('.lane').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label));
  assert.deepEqual(
    groupLanes,
    answer.summary.groups.map((e) => e.label),
  );
  assert.ok(groupLanes.length > 0);
  await card.getByRole('radio', { name: 'By class' }).check();
  await mkdir(ARTIFACTS, { recursive: true });
  await card.screenshot({ path: path.join(ARTIFACTS, 'web-video.png') });

  // Timeline CSV: the CLI's columns and rows for the same clip (the frame hash is the CLI's alone).
  const timeline = parseCsv(await downloadText(page, `Download the timeline of ${CLIP_NAME} as CSV`), {
    columns: false,
  }) as string[][];
  assert.deepEqual(timeline[0], csvColumns(5));
  const cli: VideoResult = await classifyVideo(service.engine!, path.join(root, CLIP_NAME), { topK: 5 });
  assert.equal(timeline.length - 1, cli.frames.length);
  const columns = timeline[0];
  const numeric = new Set(columns.filter((c) => c.endsWith('_probability')));
  cli.frames.forEach((frame, i) => {
    const expected = csvRow({ path: framePath(CLIP_NAME, frame.timecode), result: frame.result }, 5);
    columns.forEach((column, c) => {
      const got = timeline[i + 1][c];
      if (column === 'sha256') assert.equal(got, '', 'a job’s timeline has no frame hash');
      else if (numeric.has(column)) assert.ok(Math.abs(Number(got) - Number(expected[c])) < 1e-3, `${column} ${got}`);
      else assert.equal(got, expected[c], `row ${i} ${column}`);
    });
  });

  // Summary CSV: byte for byte what `--summary` writes for this job's summary.
  const summaryFile = path.join(root, 'summary.csv');
  const writer = await openSummaryWriter(summaryFile, false);
  writer.write(CLIP_NAME, { summary: answer.summary } as VideoResult);
  await writer.close();
  const summary = await downloadText(page, `Download the summary of ${CLIP_NAME} as CSV`);
  assert.equal(summary, await readFile(summaryFile, 'utf8'));
  assert.deepEqual(summary.split('\n')[0].split(','), SUMMARY_COLUMNS);
}

describe('web page: videos', () => {
  test('a dropped clip with a photo: uploaded as itself; timeline, best frame, summary and CSVs', LIMIT, async () => {
    const page = await openPage();
    const uploads: Upload[] = [];
    page.on('request', (r) => {
      const contentType = r.headers()['content-type'] ?? '';
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/jobs' && contentType.startsWith('video/'))
        uploads.push({
          contentType,
          query: new URL(r.url()).searchParams.toString(),
        });
    });
    await dropClipAndCheck(page);
    // The upload the page made: one video/mp4 body (the timeline above is the service's answer to it)
    // with the options in the query.
    assert.deepEqual(uploads, [
      { contentType: 'video/mp4', query: 'every=1&smooth=1&top_k=5&min_score=0&marine_only=false' },
    ]);
    await page.context().close();
  });

  test('a codec the browser cannot play: the best frame is named by its timecode instead', LIMIT, async () => {
    const page = await openPage();
    await dropFiles(page, [{ file: path.join(root, 'shark-mpeg4.mp4'), name: 'shark-mpeg4.mp4', type: 'video/mp4' }]);
    await page.waitForFunction(
      () => document.querySelector('.video-card')?.getAttribute('data-state') === 'done',
      undefined,
      { timeout: 60_000 },
    );
    const card = page.locator('.video-card');
    assert.ok((await card.locator('.meta').textContent())?.includes('mpeg4'));
    assert.match((await card.getByRole('status').textContent()) ?? '', /^shark-mpeg4\.mp4 classified: \d+ class/);
    // By keyboard: Tab reaches a span, Enter shows its frame.
    await card.locator('.lane .span').first().focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => document.querySelector('.best-frame')?.getAttribute('data-state') === 'no-picture',
    );
    assert.equal(await card.locator('.best-frame canvas').count(), 0);
    assert.match(
      (await card.locator('.best-frame figcaption').textContent()) ?? '',
      /^Best frame of .+: 00:00:0\d\.\d{3}.*This browser cannot play this video’s format \(mpeg4\), so the frame is named by its time only\.$/,
    );
    // A phone-sized screen: the timeline and its table fit without scrolling the page sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    await page.context().close();
  });

  test('progress by frames with an ETA, and Cancel stops the job on the service', LIMIT, async () => {
    const page = await openPage();
    await page.fill('#video-every', '0.04');
    await dropFiles(page, [{ file: path.join(root, 'long.mp4'), name: 'long.mp4', type: 'video/mp4' }]);
    const card = page.locator('.video-card', { hasText: 'long.mp4' });
    await page.waitForFunction(() => {
      const status = document.querySelector('.video-status')?.textContent ?? '';
      return /^\d+ of 1000 frames · about .+ left$/.test(status) && !status.startsWith('0 of');
    });
    const bar = card.locator('progress');
    assert.equal(await bar.getAttribute('aria-label'), 'Frames of long.mp4 classified');
    assert.ok(Number(await bar.evaluate((b) => (b as HTMLProgressElement).value)) > 0);
    const jobId = (await card.getAttribute('data-job')) ?? '';
    await card.getByRole('button', { name: 'Cancel classifying long.mp4' }).click();
    await page.waitForFunction(() => document.querySelector('.video-card')?.getAttribute('data-state') === 'cancelled');
    assert.equal(((await card.locator('.error-title').textContent()) ?? '').trim(), 'Cancelled.');
    const job = (await (await fetch(`${service.url}/jobs/${jobId}`)).json()) as JobRecord;
    assert.equal(job.status, 'cancelled');
    assert.ok(job.progress.done < 1000);
    await page.context().close();
  });
});
