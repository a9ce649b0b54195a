import cliProgress from 'cli-progress';

const MB = 1024 * 1024;

function megabytes(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

/**
 * A progress callback for downloadModel/resolveModel. A live bar only on a terminal; logs and
 * pipes get a plain line per 10 % so they are not flooded with redraws.
 */
export function progressReporter(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): (received: number, total: number) => void {
  return stream.isTTY ? barReporter(label, stream) : lineReporter(label, stream);
}

function barReporter(label: string, stream: NodeJS.WriteStream): (received: number, total: number) => void {
  let bar: cliProgress.SingleBar | null = null;
  let startedAt = 0;
  let done = false;
  return (received, total) => {
    if (done) return;
    if (!bar) {
      startedAt = Date.now();
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} [{bar}] {percentage}% | {receivedMB}/{totalMB} MB | {speed} MB/s | ETA {eta_formatted}`,
          // Left visible: hiding the cursor would stay hidden if the download throws mid-way.
          hideCursor: false,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { receivedMB: '0.0', totalMB: megabytes(total), speed: '0.0' });
    }
    const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001);
    bar.update(received, { receivedMB: megabytes(received), speed: megabytes(received / seconds) });
    if (received >= total) {
      done = true;
      bar.stop();
    }
  };
}

function lineReporter(label: string, stream: NodeJS.WriteStream): (received: number, total: number) => void {
  let lastTenth = -1;
  return (received, total) => {
    const tenth = total > 0 ? Math.min(10, Math.floor((received / total) * 10)) : 0;
    if (tenth <= lastTenth) return;
    lastTenth = tenth;
    stream.write(`${label}: ${tenth * 10}% (${megabytes(received)} of ${megabytes(total)} MB)\n`);
  };
}
