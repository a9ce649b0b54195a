/**
 * The fastify app: plugins, hooks and routes around a classifier and a job queue that the caller
 * created (service.ts does it for real use; tests and benchmarks can share one classifier
 * between several apps).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { existsSync } from 'node:fs';
import Fastify, { type FastifyContextConfig, type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Classifier } from '../engine/classifier.ts';
import { ClassifierError } from '../errors.ts';
import type { JobQueue } from '../queue/types.ts';
import { installApiKeys, presentedKeyOf } from './auth.ts';
import type { ServiceConfig } from './config.ts';
import type { RouteDependencies, ServiceState } from './dependencies.ts';
import { installErrorHandling } from './errors.ts';
import { createMetrics, type ServiceMetrics } from './metrics.ts';
import { registerClassifyRoutes } from './routes-classify.ts';
import { registerHealthRoutes } from './routes-health.ts';
import { registerJobRoutes } from './routes-jobs.ts';
import { registerModelRoutes } from './routes-models.ts';

export interface AppOptions {
  config: ServiceConfig;
  /** Loaded and warmed; the app never closes it. */
  classifier: Classifier;
  /** The app never closes it either. */
  queue: JobQueue;
  /** Give the one whose onBatch/onQueueEvent the classifier and queue report to; a fresh one otherwise. */
  metrics?: ServiceMetrics;
  state?: ServiceState;
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** A client's X-Request-Id when it is a sane token (it goes into logs), else a fresh UUID. */
function requestIdOf(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Per-client identity for rate limiting: the API key when keys are configured (by then the auth
 * hook has checked it; hashed, never logged), else the address. Without configured keys a
 * presented key proves nothing, and keying on it would let a client mint a fresh budget per request.
 */
function rateLimitKeyOf(keysConfigured: boolean): (request: Parameters<typeof presentedKeyOf>[0]) => string {
  return (request) => {
    const key = keysConfigured ? presentedKeyOf(request) : null;
    return key ? `key:${createHash('sha256').update(key).digest('hex').slice(0, 32)}` : `ip:${request.ip}`;
  };
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, queue } = options;
  const metrics = options.metrics ?? createMetrics();
  const classifier = metrics.countingClassifier(options.classifier);
  const state = options.state ?? { draining: false };

  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.maxBodyBytes,
    requestIdHeader: false,
    genReqId: requestIdOf,
    trustProxy: config.trustProxy,
    // Fastify's default is no limit; a client trickling a body would hold an admission slot forever.
    // Five minutes still lets a 25 MiB upload through a slow mobile link.
    requestTimeout: 300_000,
    // Unknown fields must be refused, not silently dropped (fastify's default); strings are coerced as FastAPI does.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });

  // Responses are sent as the engine made them; the response schemas document them but do not filter or coerce.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app, { maxBodyBytes: config.maxBodyBytes });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // A request answered during shutdown must not leave its connection open for the keep-alive
    // timeout: closing waits for every connection, so shutdown would take that long.
    if (state.draining) reply.header('connection', 'close');
  });

  // Plain text is no way to send an image; without this fastify would accept it and the answer would be a confusing missing_image.
  app.removeContentTypeParser('text/plain');
  for (const rawType of ['application/octet-stream', /^image\/[\w.+-]+$/i]) {
    app.addContentTypeParser(rawType, { parseAs: 'buffer', bodyLimit: config.maxBodyBytes }, (_request, body, done) => {
      done(null, body);
    });
  }
  await app.register(multipart, { limits: { fileSize: config.maxBodyBytes }, throwFileSizeLimit: true });

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

  if (config.rateLimitMax > 0) {
    // One budget per client across all API routes (per-route limits would multiply it); probes, docs and the page are exempt.
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimitMax,
      timeWindow: config.rateLimitWindowMs,
      keyGenerator: rateLimitKeyOf(config.apiKeys.length > 0),
      allowList: (request) => request.routeOptions.config?.rateLimited !== true,
      errorResponseBuilder: (_request, context) =>
        new ClassifierError(
          'rate_limited',
          `Too many requests: at most ${context.max} per client in this window; try again in ${context.after}.`,
        ),
    });
  }
  installApiKeys(app, config.apiKeys);

  const apiRouteConfig: FastifyContextConfig = { requiresKey: config.apiKeys.length > 0, rateLimited: true };
  const deps: RouteDependencies = { config, classifier, queue, apiRouteConfig, state };

  metrics.watch(options.classifier, queue);
  metrics.install(app, { requiresKey: apiRouteConfig.requiresKey === true });
  registerClassifyRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerModelRoutes(app, deps);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (config.webRoot && existsSync(config.webRoot)) {
    await app.register(fastifyStatic, {
      root: config.webRoot,
      prefix: '/',
      index: ['index.html'],
      decorateReply: false,
    });
  }
  return app;
}
