import type { FastifyInstance } from 'fastify';
import { installApiKeys } from './auth.ts';
import type { ServiceMetrics } from './metrics.ts';

export interface MetricsRouteOptions {
  metrics: ServiceMetrics;
  apiKeys: readonly string[];
}

/**
 * GET /metrics in a scope of its own: it needs the API key like the API (it tells about the
 * service's load and model), but scrapers are not rate limited, so it stays outside the API plugin.
 */
export async function metricsRoute(scope: FastifyInstance, { metrics, apiKeys }: MetricsRouteOptions): Promise<void> {
  installApiKeys(scope, apiKeys);
  scope.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['service'] } },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
}
