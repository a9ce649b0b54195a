/** Part 4: `marine-classifier classify <folder>` as a user runs it, wall clock including start-up and model load. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  BUILT_CLI,
  LABELLED_DIRS,
  log,
  memoryOf,
  waitForQuiet,
  MODELS,
  repoRoot,
  round,
  spawnTracked,
  stopChild,
  tmpDir,
  type ModelName,
} from './common.ts';
import { mkdirSync } from 'node:fs';

export interface CliRow {
  model: ModelName;
  exit_code: number | null;
  results: number;
  errors: number;
  wall_s: number | null;
  images_per_s: number | null;
  peak_rss_mb: number | null;
  note?: string;
}

export interface CliResult {
  skipped: string | null;
  folder: string;
  command: string;
  rows: CliRow[];
}

const TIME_LIMIT_MS = 180_000;

async function runCli(
  model: (typeof MODELS)[number],
  outFile: string,
): Promise<{ code: number | null; wallMs: number; peak: number | null; stderr: string }> {
  const args = [BUILT_CLI, 'classify', ...LABELLED_DIRS, '--format', 'jsonl', '--output', outFile];
  const started = performance.now();
  const child = spawnTracked(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, MODEL_PATH: model.path },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  let peak: number | null = null;
  // VmHWM vanishes with the process, so sample it while it runs.
  const sampler = setInterval(() => (peak = memoryOf(child.pid!).peak_rss_mb ?? peak), 100);
  const limit = setTimeout(() => void stopChild(child), TIME_LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearInterval(sampler);
  clearTimeout(limit);
  return { code, wallMs: performance.now() - started, peak, stderr };
}

export async function benchCliFolder(): Promise<CliResult> {
  const result: CliResult = {
    skipped: null,
    folder: LABELLED_DIRS.map((dir) => path.relative(repoRoot, dir)).join(' '),
    command:
      'node dist/cli/main.js classify ../shared/images/{photos,imagenet-marine,imagenet-other} --format jsonl --output <tmp>',
    rows: [],
  };
  if (!existsSync(BUILT_CLI)) {
    result.skipped = 'the built CLI (dist/cli/main.js) does not exist: npm run build';
    log(`cli: skipped: ${result.skipped}`);
    return result;
  }
  mkdirSync(tmpDir, { recursive: true });
  const dir = mkdtempSync(path.join(tmpDir, 'cli-'));
  try {
    for (const model of MODELS) {
      const outFile = path.join(dir, `${model.name}.jsonl`);
      await waitForQuiet();
      const run = await runCli(model, outFile);
      const lines = existsSync(outFile)
        ? readFileSync(outFile, 'utf8')
            .split('\n')
            .filter((l) => l.trim())
        : [];
      const errors = lines.filter((l) => {
        try {
          const record = JSON.parse(l) as Record<string, unknown>;
          return record.error != null;
        } catch {
          return true;
        }
      }).length;
      const row: CliRow = {
        model: model.name,
        exit_code: run.code,
        results: lines.length,
        errors,
        wall_s: round(run.wallMs / 1000, 2),
        images_per_s: lines.length ? round((lines.length * 1000) / run.wallMs) : null,
        peak_rss_mb: run.peak,
      };
      if (lines.length === 0) {
        result.skipped = `the CLI failed (exit ${run.code}) and wrote no results: ${run.stderr.trim().split('\n').slice(-5).join(' | ')}`;
        log(`cli: skipped: ${result.skipped}`);
        return result;
      }
      if (run.code !== 0) row.note = run.stderr.trim().split('\n').slice(-3).join(' | ');
      result.rows.push(row);
      log(
        `cli ${model.name}: ${row.results} results (${row.errors} errors) in ${row.wall_s} s = ${row.images_per_s} img/s, exit ${row.exit_code}, peak RSS ${row.peak_rss_mb} MB`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}
