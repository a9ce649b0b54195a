/** Shared by every bench part: where things are, run-size settings, statistics, child-process cleanup. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const resultsDir = path.join(repoRoot, 'bench', 'results');
/** Git-ignored scratch space (service logs, CLI output). */
export const tmpDir = path.join(resultsDir, 'tmp');

export const MODELS = [
  { name: 'mobilenetv2-int8', path: path.join(sharedDir, 'models', 'mobilenetv2-12-int8.onnx') },
  { name: 'resnet50', path: path.join(sharedDir, 'models', 'bench', 'resnet50-untrained.onnx') },
] as const;
export type ModelName = (typeof MODELS)[number]['name'];

export const IMAGENET_DIR = path.join(sharedDir, 'images', 'imagenet-marine');
export const CAMERA_IMAGE = path.join(sharedDir, 'images', 'photos', 'test_image_shark.jpg');
/** The 58 labelled photos (shared/images/camera holds camera files for other purposes). */
export const LABELLED_DIRS = ['photos', 'imagenet-marine', 'imagenet-other'].map((name) =>
  path.join(sharedDir, 'images', name),
);
/** The compiled CLI, what `npm start` and the bin run; run.ts builds it first. */
export const BUILT_CLI = path.join(repoRoot, 'dist', 'cli', 'main.js');

export function imagenetImages(): string[] {
  return readdirSync(IMAGENET_DIR)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .map((f) => path.join(IMAGENET_DIR, f));
}

/** Fails with one clear message instead of a stack trace from deep inside a part. */
export function checkSharedFiles(): void {
  const missing = [...MODELS.map((m) => m.path), IMAGENET_DIR, CAMERA_IMAGE].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `The benchmark needs the shared models and images next to the repository (${sharedDir}); missing:\n  ${missing.join('\n  ')}\n` +
        'They are never copied into the repo: place the shared/ folder beside it.',
    );
  }
  if (imagenetImages().length === 0) throw new Error(`No JPEG images in ${IMAGENET_DIR}.`);
}

export const cores = availableParallelism();
export const quick = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '');
export const fullGrid = /^full$/i.test(process.env.BENCH_GRID ?? '');

// ---- statistics -------------------------------------------------------------------------------

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export const median = (values: number[]) => percentile(values, 50);
export const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);
export const round = (value: number, digits = 1) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---- processes ----------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

/** Spawns a child that is killed when the bench ends, however it ends. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => alive(child) && child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function killAllChildren(): void {
  for (const child of children) if (alive(child)) child.kill('SIGKILL');
}

process.once('exit', killAllChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

/** Peak and current resident memory of a process, from /proc (Linux); nulls elsewhere. */
export function memoryOf(pid: number): { peak_rss_mb: number | null; rss_mb: number | null } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? round(Number(m[1]) / 1024, 1) : null;
    };
    return { peak_rss_mb: kb('VmHWM'), rss_mb: kb('VmRSS') };
  } catch {
    return { peak_rss_mb: null, rss_mb: null };
  }
}

// ---- other users of the machine ----------------------------------------------------------------

export interface CpuSnapshot {
  at: number;
  /** Clock ticks, all cores: machine busy (from /proc/stat) and this process plus its reaped children. */
  machineBusy: number;
  own: number;
}

/** utime + stime + cutime + cstime of a process, in clock ticks. */
export function ticksOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // Fields after the ")" that closes the command name: utime stime cutime cstime are 12-15 there.
  const after = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return after[11] + after[12] + after[13] + after[14];
}

export function cpuSnapshot(): CpuSnapshot | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    const machineBusy = fields.reduce((a, b) => a + b, 0) - idle;
    // Reaped children are in our cutime; running ones (service, load generator, CLI) are read directly.
    let own = ticksOf('/proc/self/stat');
    for (const child of children) {
      if (child.pid && alive(child))
        own += (() => {
          try {
            return ticksOf(`/proc/${child.pid}/stat`);
          } catch {
            return 0;
          }
        })();
    }
    return { at: performance.now(), machineBusy, own };
  } catch {
    return null;
  }
}

/** Cores' worth of CPU used by processes other than the bench (and its exited children) between two snapshots. */
export function otherBusyCores(a: CpuSnapshot | null, b: CpuSnapshot | null): number | null {
  if (!a || !b || b.at <= a.at) return null;
  const ticksPerSecond = 100; // USER_HZ on Linux
  const other = (b.machineBusy - a.machineBusy - (b.own - a.own)) / ticksPerSecond;
  return round(Math.max(0, other / ((b.at - a.at) / 1000)), 2);
}

let quietBudgetMs = quick ? 5_000 : 30_000;
let retryBudgetMs = quick ? 0 : 60_000;
const NOISY_CORES = 0.3;
/** Past this point in the run, no more waiting or re-measuring: the whole bench must stay under 10 minutes. */
const PATIENCE_ENDS_MS = 6.5 * 60_000;
const patient = () => performance.now() < PATIENCE_ENDS_MS;

/**
 * Before a measurement: wait (in 0.5 s samples) until other processes use less than 0.2 cores,
 * drawing on a budget shared by the whole run so a busy machine cannot stretch the bench past
 * its time limit. Returns the last sample (cores other processes were using).
 */
export async function waitForQuiet(): Promise<number | null> {
  for (;;) {
    const a = cpuSnapshot();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const busy = otherBusyCores(a, cpuSnapshot());
    if (busy == null || busy < 0.2 || quietBudgetMs <= 0 || !patient()) return busy;
    quietBudgetMs -= 500;
  }
}

/**
 * Runs a measurement; when other processes used more than 0.3 cores meanwhile and the run's
 * shared retry budget allows, waits for quiet and runs it once more, keeping the quieter result.
 */
export async function measureQuietly<T extends { other_load_cores: number | null }>(
  label: string,
  fn: () => Promise<T>,
): Promise<T> {
  const first = await fn();
  if ((first.other_load_cores ?? 0) <= NOISY_CORES || retryBudgetMs <= 0 || !patient()) return first;
  log(`${label}: other processes used ${first.other_load_cores} cores; measuring again`);
  const started = performance.now();
  await waitForQuiet();
  const second = await fn();
  retryBudgetMs -= performance.now() - started;
  return (second.other_load_cores ?? Infinity) < (first.other_load_cores ?? Infinity) ? second : first;
}

/** Deterministic filler for model inputs: values in the normalized-pixel range, no RNG state. */
export function syntheticInput(length: number): Float32Array {
  const data = new Float32Array(length);
  let x = 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = ((x >>> 0) / 0xffffffff) * 4 - 2;
  }
  return data;
}

/** Deterministic 8-bit pixels, as the decoding threads hand them to the inference thread. */
export function syntheticPixels(length: number): Uint8Array {
  return Uint8Array.from(syntheticInput(length), (v) => Math.round(((v + 2) / 4) * 255));
}
