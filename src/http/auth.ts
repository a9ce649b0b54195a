/**
 * Optional API keys, for every route of the scope they are installed in: the API plugin (api.ts)
 * and the /metrics scope. Health checks, the page and the API docs are registered outside both,
 * so that probes and people can reach them without a key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClassifierError } from '../errors.ts';
import type { AuthFailures } from './auth-failures.ts';

function digestOf(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKeyOf(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header : null;
}

/**
 * Every route of `scope` (an encapsulated plugin's instance) answers 401 without a valid key;
 * nothing when no keys are set. With `failures`, an address that failed too often is answered 429.
 */
export function installApiKeys(
  scope: FastifyInstance,
  apiKeys: readonly string[],
  failures: AuthFailures | null = null,
): void {
  if (apiKeys.length === 0) return;
  // Comparing fixed-length digests in constant time keeps key length and prefix from leaking through timing.
  const accepted = apiKeys.map(digestOf);
  scope.addHook('onRequest', async (request, reply) => {
    const waitMs = failures?.waitMs(request.ip) ?? 0;
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      reply.header('retry-after', String(seconds));
      throw new ClassifierError(
        'rate_limited',
        `Too many failed API key checks from this address: at most ${failures?.max} per window; try again in ${seconds} s.`,
      );
    }
    const key = presentedKeyOf(request);
    const digest = key === null ? null : digestOf(key);
    let valid = false;
    for (const candidate of accepted) if (digest !== null && timingSafeEqual(candidate, digest)) valid = true;
    if (!valid) {
      // Only a wrong key is a guess; a request without one learns nothing and keeps its plain 401.
      if (key !== null) {
        const count = failures?.record(request.ip);
        request.log.warn({ ip: request.ip, failures: count, limit: failures?.max }, 'wrong API key');
      }
      throw new ClassifierError(
        'unauthorized',
        key === null
          ? 'This endpoint needs an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>".'
          : 'The API key is not valid.',
      );
    }
  });
}
