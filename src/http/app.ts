/**
 * The fastify app around a classify service and a job queue that the caller created (service.ts
 * does it for real use; tests and benchmarks can share one engine between several apps). The API
 * routes live in one plugin that owns keys and rate limit (api.ts); what is registered here
 * beside it (probes, metrics, docs, the page) is outside it on purpose.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ClassifyService } from '../queue/classify-service.ts';
import type { JobQueue } from '../queue/types.ts';
import { apiPlugin } from './api.ts';
import { authFailuresOf } from './auth-failures.ts';
import type { ServiceConfig } from './config.ts';
import type { ClassSetAccess, RouteDependencies, Routes, ServiceState } from './dependencies.ts';
import { installBodyGuard } from './body-guard.ts';
import { RAW_IMAGE_TYPES } from './upload-stream.ts';
import { registerDocs, registerOpenApiRoute } from './docs.ts';
import { clientErrorHandler, frameworkErrorsOf, installErrorHandling } from './errors.ts';
import { MAX_JOB_ID_LENGTH } from './schemas.ts';
import { createMetrics, type ServiceMetrics } from './metrics.ts';
import { registerHealthRoutes } from './routes-health.ts';
import { metricsRoute } from './routes-metrics.ts';

export interface AppOptions {
  config: ServiceConfig;
  /** Ready to answer (in-process: model loaded and warmed); the app never closes it. */
  classifier: ClassifyService;
  /** The app never closes it either. */
  queue: JobQueue;
  /** Give the one whose onBatch/onQueueEvent the classifier and queue report to; a fresh one otherwise. */
  metrics?: ServiceMetrics;
  state?: ServiceState;
  /** The class sets the /class-sets routes and `class_set` use; none: those routes are not served. */
  classSets?: ClassSetAccess | null;
  /** Route modules served inside the API plugin, behind its API keys and rate limit. */
  extraRoutes?: readonly Routes[];
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** A client's X-Request-Id when it is a sane token (it goes into logs), else a fresh UUID. */
function requestIdOf(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

function createFastify(config: ServiceConfig) {
  return Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.maxBodyBytes,
    requestIdHeader: false,
    genReqId: requestIdOf,
    trustProxy: config.trustProxy,
    routerOptions: { maxParamLength: MAX_JOB_ID_LENGTH },
    frameworkErrors: frameworkErrorsOf({ maxBodyBytes: config.maxBodyBytes }),
    clientErrorHandler,
    // The body's pace is judged by the body guard (BODY_STALL_MS, BODY_MIN_RATE); this is the last resort.
    requestTimeout: 300_000,
    // Unknown fields must be refused, not silently dropped (fastify's default); strings are coerced as FastAPI does.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
}

function installHeaders(app: FastifyInstance, state: ServiceState): void {
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // A request answered during shutdown must not leave its connection open for the keep-alive
    // timeout: closing waits for every connection, so shutdown would take that long.
    if (state.draining) reply.header('connection', 'close');
  });
}

async function installBodyParsers(app: FastifyInstance, config: ServiceConfig): Promise<void> {
  // Plain text is no way to send an image; without this fastify would accept it and the answer would be a confusing missing_image.
  app.removeContentTypeParser('text/plain');
  for (const rawType of RAW_IMAGE_TYPES) {
    app.addContentTypeParser(rawType, { parseAs: 'buffer', bodyLimit: config.maxBodyBytes }, (_request, body, done) => {
      done(null, body);
    });
  }
  await app.register(multipart, { limits: { fileSize: config.maxBodyBytes }, throwFileSizeLimit: true });
}

async function registerPage(app: FastifyInstance, config: ServiceConfig): Promise<void> {
  if (!config.webRoot || !existsSync(config.webRoot)) return;
  await app.register(fastifyStatic, { root: config.webRoot, prefix: '/', index: ['index.html'], decorateReply: false });
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, queue } = options;
  const metrics = options.metrics ?? createMetrics();
  const state = options.state ?? { draining: false };
  const service = options.classifier;
  const deps: RouteDependencies = {
    config,
    service,
    classify: metrics.countImages(service.classify.bind(service)),
    queue,
    state,
    classSets: options.classSets ?? null,
  };

  const app = createFastify(config);
  // Responses are sent as the engine made them; the response schemas document them but do not filter or coerce.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app, { maxBodyBytes: config.maxBodyBytes });
  installHeaders(app, state);
  installBodyGuard(app, {
    pace: { stallMs: config.bodyStallMs, minRate: config.bodyMinRate },
    maxBodyBytes: config.maxBodyBytes,
    isDraining: () => state.draining,
  });
  await installBodyParsers(app, config);
  await registerDocs(app);
  metrics.watch(service, queue);
  metrics.observeRequests(app);

  const authFailures = authFailuresOf(config);
  await app.register(metricsRoute, { metrics, apiKeys: config.apiKeys, authFailures });
  await app.register(apiPlugin, { ...deps, extraRoutes: options.extraRoutes, authFailures });
  registerHealthRoutes(app, deps);
  registerOpenApiRoute(app);
  await registerPage(app, config);
  return app;
}
