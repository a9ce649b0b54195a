/**
 * Memory of `serve` under a burst of huge images (issue 14, item 6). Not part of `npm run bench`
 * (one run takes about a minute of both cores). Run after `npm run build`:
 *
 *   node --import tsx bench/big-image-memory.ts [NAME=VALUE ...]
 *
 * NAME=VALUE pairs go into the service's environment, to compare allocators and limits, e.g.
 *   MALLOC_ARENA_MAX=2
 *   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2   (Debian: apt-get install libjemalloc2)
 *   DECODE_PIXEL_BUDGET=100000000
 * BIG_IMAGES (default 16) uploads of one 9999x10000 PNG (~12 KB, made once in the OS temp folder)
 * are sent at once; the service's RSS is read from /proc before, every 100 ms during, and 10 s
 * after the last answer, and its VmHWM (the kernel's own peak) at the end.
 */
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { BUILT_CLI, log, memoryOf, MODELS, repoRoot, spawnTracked, stopChild } from './common.ts';

const WIDTH = 9999;
const HEIGHT = 10_000;
const COUNT = Number(process.env.BIG_IMAGES ?? 16);
const AFTER_MS = 10_000;

async function bigPng(): Promise<Buffer> {
  const file = path.join(tmpdir(), `marine-big-${WIDTH}x${HEIGHT}.png`);
  if (!existsSync(file)) {
    // Flat colour compresses to a few KB: the cost is all in decoding.
    const png = await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: '#2a6f97' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    writeFileSync(file, png);
  }
  return readFileSync(file);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMb(pid: number): number {
  return memoryOf(pid).rss_mb ?? Number.NaN;
}

async function waitReady(base: string, deadline = Date.now() + 120_000): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(200);
  }
  throw new Error('serve did not become ready in 120 s');
}

async function main(): Promise<void> {
  if (!existsSync(BUILT_CLI)) throw new Error(`Run \`npm run build\` first (${BUILT_CLI} is missing).`);
  const extraEnv = Object.fromEntries(
    process.argv.slice(2).map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`Expected NAME=VALUE, got "${pair}".`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const png = await bigPng();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logFile = path.join(tmpdir(), `marine-big-image-serve-${process.pid}.log`);
  const out = openSync(logFile, 'w');
  const child = spawnTracked(process.execPath, [BUILT_CLI, 'serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      MODEL_PATH: MODELS[0].path,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', out, out],
  });
  const pid = child.pid ?? 0;
  try {
    await waitReady(base);
    await sleep(2000);
    const baseline = rssMb(pid);
    log(
      `serve ready (pid ${pid}), RSS ${baseline} MB; sending ${COUNT} x ${WIDTH}x${HEIGHT} PNG (${png.length} bytes)`,
    );

    let peakSampled = baseline;
    const sampler = setInterval(() => {
      peakSampled = Math.max(peakSampled, rssMb(pid));
    }, 100);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: COUNT }, async () => {
        const res = await fetch(`${base}/classify`, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: new Uint8Array(png),
        });
        const body = (await res.json()) as { top1?: { label: string }; error?: { code: string } };
        return `${res.status} ${body.top1?.label ?? body.error?.code ?? '?'}`;
      }),
    );
    const burstS = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const atEnd = rssMb(pid);
    await sleep(AFTER_MS);
    const after = rssMb(pid);
    const peakKernel = memoryOf(pid).peak_rss_mb;
    const counts: Record<string, number> = {};
    for (const answer of answers) counts[answer] = (counts[answer] ?? 0) + 1;
    const result = {
      env: extraEnv,
      images: COUNT,
      burst_s: Number(burstS.toFixed(1)),
      answers: counts,
      rss_baseline_mb: baseline,
      rss_peak_sampled_mb: peakSampled,
      rss_peak_vmhwm_mb: peakKernel,
      rss_at_end_mb: atEnd,
      rss_after_10s_mb: after,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await stopChild(child);
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
