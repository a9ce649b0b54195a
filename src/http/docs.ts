/** The OpenAPI document (/openapi.json) and Swagger UI (/docs), open to everyone. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Marine Classifier',
        description:
          'Classifies photos with an ImageNet model and tells what they mean for marine life. ' +
          'Errors are always `{"error": {"code", "message", "status"}, "request_id"}`. ' +
          'When API keys are configured, /classify, /jobs, /models and /metrics need `Authorization: Bearer <key>` or `X-API-Key`.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      tags: [
        { name: 'classify', description: 'Classify an image and wait for the answer' },
        { name: 'jobs', description: 'Queue images (one or a batch) and poll for results' },
        { name: 'service', description: 'Health, readiness, metrics and models' },
      ],
    },
  });
  // Serves its own copy of Swagger UI's assets; the page loads nothing from a CDN.
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

/** After every route is registered: the document lists the routes registered before it is first read. */
export function registerOpenApiRoute(app: FastifyInstance): void {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
