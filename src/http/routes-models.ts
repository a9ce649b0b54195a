import { CATALOGUE } from '../engine/catalogue.ts';
import type { Routes } from './dependencies.ts';
import { shownModel } from './model-view.ts';
import { ModelsResponse, errorResponses } from './schemas.ts';

export const registerModelRoutes: Routes = (app, deps) => {
  app.get(
    '/models',
    {
      schema: {
        summary: 'The loaded model and the catalogue of models the service can download',
        tags: ['service'],
        response: { 200: ModelsResponse, ...errorResponses },
      },
    },
    async () => {
      const { id, path, signature, catalogue, choice } = shownModel(await deps.service.model());
      return { model: { id, path, signature, catalogue, choice: choice ?? null }, catalogue: [...CATALOGUE] };
    },
  );
};
