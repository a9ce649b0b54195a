/**
 * The API as one encapsulated fastify plugin: API keys and the rate limit are installed in its
 * scope, so every route registered in it (the built-in ones and any `extraRoutes`) is protected
 * without code of its own. Health, readiness, metrics, docs and the page are registered outside it
 * on purpose (app.ts).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ClassifierError } from '../errors.ts';
import { installApiKeys, presentedKeyOf } from './auth.ts';
import type { AuthFailures } from './auth-failures.ts';
import type { ServiceConfig } from './config.ts';
import type { RouteDependencies, Routes } from './dependencies.ts';
import { registerClassSetRoutes } from './routes-class-sets.ts';
import { registerClassifyRoutes } from './routes-classify.ts';
import { registerExportRoutes } from './routes-export.ts';
import { registerJobRoutes } from './routes-jobs.ts';
import { registerModelRoutes } from './routes-models.ts';

export interface ApiPluginOptions extends RouteDependencies {
  /** More route modules to serve inside the API, after the built-in ones, protected like them. */
  extraRoutes?: readonly Routes[];
  /** Failed key checks per address (app.ts shares it with /metrics); null: not limited. */
  authFailures?: AuthFailures | null;
}

/**
 * Per-client identity for rate limiting: the API key when keys are configured (by then the auth
 * hook has checked it; hashed, never logged), else the address. Without configured keys a
 * presented key proves nothing, and keying on it would let a client mint a fresh budget per request.
 */
function rateLimitKeyOf(keysConfigured: boolean): (request: FastifyRequest) => string {
  return (request) => {
    const key = keysConfigured ? presentedKeyOf(request) : null;
    return key ? `key:${createHash('sha256').update(key).digest('hex').slice(0, 32)}` : `ip:${request.ip}`;
  };
}

async function installRateLimit(scope: FastifyInstance, config: ServiceConfig): Promise<void> {
  if (config.rateLimitMax <= 0) return;
  // One budget per client across all API routes (per-route limits would multiply it).
  await scope.register(rateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    keyGenerator: rateLimitKeyOf(config.apiKeys.length > 0),
    errorResponseBuilder: (_request, context) =>
      new ClassifierError(
        'rate_limited',
        `Too many requests: at most ${context.max} per client in this window; try again in ${context.after}.`,
      ),
  });
}

/** Register with `app.register(apiPlugin, options)`; fastify gives it a scope of its own. */
export async function apiPlugin(scope: FastifyInstance, options: ApiPluginOptions): Promise<void> {
  const { extraRoutes = [], authFailures = null, ...deps } = options;
  await installRateLimit(scope, deps.config);
  installApiKeys(scope, deps.config.apiKeys, authFailures);
  const api = scope.withTypeProvider<TypeBoxTypeProvider>();
  for (const routes of [
    registerClassifyRoutes,
    registerJobRoutes,
    registerExportRoutes,
    registerModelRoutes,
    registerClassSetRoutes,
    ...extraRoutes,
  ])
    routes(api, deps);
}
