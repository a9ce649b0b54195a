/**
 * `npm run bench`: every measurement in one run, one after another (never two heavy parts at
 * once on a 2-core machine), so the ratios between them hold on a noisy machine.
 * Writes bench/results/<date>.json and .md and prints the Markdown.
 *
 *   BENCH_QUICK=1    ~1-minute smoke run (small samples; written as <date>-quick.*)
 *   BENCH_GRID=full  every engine setting combination instead of the small grid (takes longer)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { benchClassSets } from './class-sets.ts';
import { benchCameraSize } from './camera-size.ts';
import { benchCliFolder } from './cli-folder.ts';
import {
  checkSharedFiles,
  cores,
  cpuSnapshot,
  killAllChildren,
  log,
  otherBusyCores,
  quick,
  repoRoot,
  resultsDir,
} from './common.ts';
import { benchEngineGrid } from './engine-grid.ts';
import { benchHttp } from './http-load.ts';
import { benchPreprocess } from './preprocess.ts';
import { benchRawModel } from './raw-model.ts';
import { summarize, toMarkdown, type BenchResults } from './report.ts';
import { benchVideo } from './video.ts';

/** Cores' worth of CPU busy over one second while the bench itself is idle: other users of the machine. */
async function backgroundBusy(): Promise<number | null> {
  const a = cpuSnapshot();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return otherBusyCores(a, cpuSnapshot());
}

function versionOf(pkg: string): string | null {
  try {
    const require = createRequire(import.meta.url);
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

function gitCommit(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return null;
  }
}

function localDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function main(): Promise<void> {
  checkSharedFiles();
  // The service and the CLI are measured as users run them: compiled, from dist/.
  log('building dist/ (npm run build)');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' });
  const started = new Date();
  const busyBefore = await backgroundBusy();
  if (busyBefore != null && busyBefore > 0.3)
    log(`warning: ${busyBefore} cores already busy with other work; figures will be low`);
  const machine: BenchResults['machine'] = {
    cpu: cpus()[0]?.model ?? null,
    cores,
    memory_gb: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.versions.node,
    onnxruntime: versionOf('onnxruntime-node'),
    sharp: versionOf('sharp'),
    commit: gitCommit(),
    load_average_1m: Number(loadavg()[0].toFixed(2)),
    background_busy_cores_before: busyBefore,
    background_busy_cores_after: null,
  };
  const failures: Record<string, string> = {};
  const otherLoad: Record<string, number | null> = {};
  async function part<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
    log(`${name}...`);
    const t = performance.now();
    const cpuBefore = cpuSnapshot();
    try {
      return await fn();
    } catch (err) {
      failures[name] = err instanceof Error ? err.message : String(err);
      log(`${name} failed: ${failures[name]}`);
      return null;
    } finally {
      killAllChildren();
      otherLoad[name] = otherBusyCores(cpuBefore, cpuSnapshot());
      log(
        `${name} took ${((performance.now() - t) / 1000).toFixed(0)} s; other processes used ${otherLoad[name]} cores meanwhile`,
      );
    }
  }

  const raw_model = await part('raw model', benchRawModel);
  const preprocess = await part('preprocessing', benchPreprocess);
  const engine_grid = await part('engine grid', benchEngineGrid);
  const http = await part('http', benchHttp);
  const cli = await part('cli', benchCliFolder);
  const class_sets = await part('class sets', benchClassSets);
  const camera_size = await part('camera-size', benchCameraSize);
  const video = await part('video', benchVideo);
  machine.background_busy_cores_after = await backgroundBusy();

  const partial: Omit<BenchResults, 'summary'> = {
    date: localDate(started),
    quick,
    started_at: started.toISOString(),
    duration_s: Math.round((Date.now() - started.getTime()) / 1000),
    machine,
    raw_model,
    preprocess,
    engine_grid,
    http,
    cli,
    class_sets,
    camera_size,
    video,
    other_load_cores: otherLoad,
    failures,
  };
  const results: BenchResults = { ...partial, summary: summarize(partial) };
  const markdown = toMarkdown(results);
  mkdirSync(resultsDir, { recursive: true });
  const base = path.join(resultsDir, `${results.date}${quick ? '-quick' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown);
  process.stdout.write(`\n${markdown}\n`);
  log(`wrote ${path.relative(repoRoot, base)}.json and .md`);
}

main().then(
  () => {
    killAllChildren();
    // Piscina and ONNX Runtime threads can keep the process alive; everything is written.
    process.exit(0);
  },
  (err: unknown) => {
    killAllChildren();
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
