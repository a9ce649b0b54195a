import type { FastifyInstance } from 'fastify';
import { CATALOGUE } from '../engine/catalogue.ts';
import type { RouteDependencies } from './dependencies.ts';
import { ModelsResponse, errorResponses } from './schemas.ts';

export function registerModelRoutes(app: FastifyInstance, deps: RouteDependencies): void {
  app.get(
    '/models',
    {
      schema: {
        summary: 'The loaded model and the catalogue of models the service can download',
        tags: ['service'],
        response: { 200: ModelsResponse, ...errorResponses },
      },
      config: deps.apiRouteConfig,
    },
    async () => {
      const { id, path, signature, catalogue } = deps.classifier.model;
      return { model: { id, path, signature, catalogue }, catalogue: CATALOGUE };
    },
  );
}
