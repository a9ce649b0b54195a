import type { FastifyInstance } from 'fastify';
import { ClassifierError } from '../errors.ts';
import type { RouteDependencies } from './dependencies.ts';
import { ErrorResponse, HealthResponse, ReadyResponse } from './schemas.ts';

/** Probes: open without an API key and not rate limited, since orchestrators call them constantly. */
export function registerHealthRoutes(app: FastifyInstance, deps: RouteDependencies): void {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness: the process answers', tags: ['service'], response: { 200: HealthResponse } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: model loaded and warmed, queue accepting, not shutting down',
        tags: ['service'],
        response: { 200: ReadyResponse, 503: ErrorResponse },
      },
    },
    async () => {
      // The classifier is only handed to the app once its model is loaded and warmed, so its presence is the model check.
      if (deps.state.draining) throw new ClassifierError('not_ready', 'The service is shutting down.');
      if (!(await deps.queue.ready())) throw new ClassifierError('not_ready', 'The job queue is not accepting jobs.');
      const stats = await deps.queue.stats();
      return {
        status: 'ready',
        model: deps.classifier.model.id,
        queue: { waiting: stats.waiting, active: stats.active, workers: stats.workers },
      };
    },
  );
}
