/** Request counts and latencies per route, for every route of the app (API or not). */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS } from './metrics-engine.ts';

export class RequestMetrics {
  readonly #requests: Counter<'method' | 'route' | 'status_code'>;
  readonly #duration: Histogram<'method' | 'route'>;

  constructor(registry: Registry) {
    this.#requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request to response, by route.',
      labelNames: ['method', 'route'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
  }

  /** Hooks the app's root, so every route and the not-found answers are counted. */
  observe(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      // Unmatched URLs share one label, so scanners cannot blow up the series count.
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      this.#requests.inc({ method, route, status_code: String(reply.statusCode) });
      this.#duration.observe({ method, route }, reply.elapsedTime / 1000);
    });
  }
}
