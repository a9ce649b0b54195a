import type { FastifyInstance } from 'fastify';
import { installApiKeys } from './auth.ts';
import type { AuthFailures } from './auth-failures.ts';
import type { ServiceMetrics } from './metrics.ts';

export interface MetricsRouteOptions {
  metrics: ServiceMetrics;
  apiKeys: readonly string[];
  /** Shared with the API, so that guessing keys at /metrics spends the same budget. */
  authFailures: AuthFailures | null;
}

/**
 * GET /metrics in a scope of its own: it needs the API key like the API (it tells about the
 * service's load and model), but scrapers are not rate limited, so it stays outside the API plugin.
 */
export async function metricsRoute(
  scope: FastifyInstance,
  { metrics, apiKeys, authFailures }: MetricsRouteOptions,
): Promise<void> {
  installApiKeys(scope, apiKeys, authFailures);
  scope.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['service'] } },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
}
