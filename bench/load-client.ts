/**
 * The load generator, run as its own process (forked by http-load.ts) so its CPU use is not
 * counted against the service or the bench. Receives one LoadJob over IPC, answers one LoadResult.
 *
 * Every request is made unique (a counter in the URL, a few bytes after the JPEG's end marker)
 * so a result cache keyed on the image's sha256 cannot turn the benchmark into cache hits;
 * decoders ignore bytes after the end marker.
 */
import { readFileSync } from 'node:fs';
import autocannon, { type AutocannonRequest } from 'autocannon';

export interface LoadJob {
  /** http://127.0.0.1:<port> of the service. */
  target: string;
  mode: 'upload' | 'url';
  connections: number;
  durationS: number;
  maxRequests: number;
  timeoutS: number;
  /** upload: local JPEG paths; url: image URLs on the bench's static server. */
  images: string[];
}

export interface LoadResult {
  connections: number;
  duration_s: number;
  ok: number;
  requests_per_s: number;
  latency_ms_p50: number | null;
  latency_ms_p95: number | null;
  latency_ms_p99: number | null;
  latency_ms_max: number | null;
  errors: number;
  timeouts: number;
  non_2xx: number;
  status_codes: Record<string, number>;
  first_error: string | null;
  /** CPU seconds the load generator itself used: it shares the machine's cores with the service. */
  load_generator_cpu_s: number;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const value = sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
  return Number(value.toFixed(1));
}

function requestsFor(job: LoadJob, onError: (status: number, body: string) => void): AutocannonRequest[] {
  let counter = 0;
  const onResponse = (status: number, body: string) => {
    if (status < 200 || status >= 300) onError(status, body);
  };
  if (job.mode === 'upload') {
    // Each image once, with room after it for a marker; autocannon copies the body into the request
    // it sends before it asks for the next one, so the marker can be rewritten in place (a new
    // 100 kB body per request made the load generator's garbage collector a visible CPU cost).
    const marker = (n: number) => `\0bench-${process.pid}-${String(n).padStart(12, '0')}`;
    const bodies = job.images.map((file) => {
      const image = readFileSync(file);
      return { body: Buffer.concat([image, Buffer.from(marker(0))]), at: image.length };
    });
    return bodies.map(({ body, at }) => ({
      method: 'POST',
      path: '/classify',
      headers: { 'content-type': 'image/jpeg' },
      onResponse,
      setupRequest: (request) => {
        body.write(marker(counter++), at, 'latin1');
        return { ...request, body };
      },
    }));
  }
  return job.images.map((url) => ({
    method: 'POST',
    path: '/classify',
    headers: { 'content-type': 'application/json' },
    onResponse,
    setupRequest: (request) => ({ ...request, body: JSON.stringify({ image_url: `${url}?n=${counter++}` }) }),
  }));
}

function run(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let firstError: string | null = null;
    const cpuBefore = process.cpuUsage();
    const instance = autocannon(
      {
        url: job.target,
        connections: job.connections,
        duration: job.durationS,
        maxOverallRequests: Math.max(job.maxRequests, job.connections),
        timeout: job.timeoutS,
        requests: requestsFor(job, (status, body) => {
          firstError ??= `HTTP ${status}: ${body.slice(0, 300)}`;
        }),
      },
      (err, result) => {
        if (err) return reject(err);
        latencies.sort((a, b) => a - b);
        const statusCodes = Object.fromEntries(
          Object.entries(result.statusCodeStats).map(([code, s]) => [code, Number(s.count)]),
        );
        resolve({
          connections: job.connections,
          duration_s: result.duration,
          ok: latencies.length,
          requests_per_s: latencies.length / result.duration,
          latency_ms_p50: percentile(latencies, 50),
          latency_ms_p95: percentile(latencies, 95),
          latency_ms_p99: percentile(latencies, 99),
          latency_ms_max: percentile(latencies, 100),
          errors: result.errors,
          timeouts: result.timeouts,
          non_2xx: result.non2xx,
          status_codes: statusCodes,
          first_error: firstError,
          load_generator_cpu_s: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpuBefore)),
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
    instance.on('reqError', (error: Error) => {
      firstError ??= `request error: ${error.message}`;
    });
  });
}

process.once('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: unknown) =>
      process.send!({ ok: false, error: err instanceof Error ? err.message : String(err) }, () => process.exit(1)),
  );
});
// Never outlive the bench.
process.once('disconnect', () => process.exit(0));
