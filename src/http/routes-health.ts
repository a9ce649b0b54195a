import { ClassifierError } from '../errors.ts';
import type { Routes } from './dependencies.ts';
import { shownModel } from './model-view.ts';
import { ErrorResponse, HealthResponse, ReadyResponse } from './schemas.ts';

/** Probes: open without an API key and not rate limited, since orchestrators call them constantly. */
export const registerHealthRoutes: Routes = (app, deps) => {
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
      // In-process the service is only built once its model is loaded and warmed, so its presence is the model check;
      // in Redis mode the model is the workers' (and "none" until one announces itself).
      if (deps.state.draining) throw new ClassifierError('not_ready', 'The service is shutting down.');
      if (!(await deps.queue.ready())) throw new ClassifierError('not_ready', 'The job queue is not accepting jobs.');
      const stats = await deps.queue.stats();
      return {
        status: 'ready' as const,
        model: shownModel(await deps.service.model()).id,
        queue: { waiting: stats.waiting, active: stats.active, workers: stats.workers },
      };
    },
  );
};
