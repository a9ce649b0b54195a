import cliProgress from 'cli-progress';

export interface RunProgress {
  tick(failed: boolean): void;
  /** Print a line without breaking the bar. */
  log(line: string): void;
  stop(): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/**
 * A live bar with images/s and ETA on a terminal; on a pipe or log file a plain line every
 * 10 % or 10 s, so long unattended runs still show they are alive without flooding the log.
 */
export function startProgress(
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
  /** What is counted: 'images', or 'frames' of a video (the name then says which). */
  unit: { name: string; of?: string } = { name: 'images' },
): RunProgress {
  const of = unit.of ? ` of ${unit.of}` : '';
  const started = performance.now();
  let done = 0;
  let failed = 0;
  const rate = () => done / Math.max(1e-3, (performance.now() - started) / 1000);

  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      {
        stream,
        format: `classify |{bar}| {value}/{total} ${unit.name}${of} | {rate} ${unit.name}/s | ETA {eta_text} | failed {failed}`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const bar = multi.create(total, 0, { rate: '0.0', eta_text: '?', failed: 0 });
    return {
      tick(isFailure) {
        done++;
        if (isFailure) failed++;
        bar.update(done, { rate: rate().toFixed(1), eta_text: duration((total - done) / rate()), failed });
      },
      log: (line) => multi.log(`${line}\n`),
      stop: () => multi.stop(),
    };
  }

  let lastPrinted = 0;
  let lastDone = 0;
  const print = () => {
    stream.write(
      `classified ${done}/${total} ${unit.name}${of} (${rate().toFixed(1)} ${unit.name}/s, ETA ${duration((total - done) / rate())}), ${failed} failed\n`,
    );
    lastPrinted = performance.now();
    lastDone = done;
  };
  return {
    tick(isFailure) {
      done++;
      if (isFailure) failed++;
      if (
        done === total ||
        done - lastDone >= Math.max(1, Math.ceil(total / 10)) ||
        performance.now() - lastPrinted > 10_000
      )
        print();
    },
    log: (line) => process.stdout.write(`${line}\n`),
    stop() {},
  };
}
