/**
 * Optional API keys, for every route of the scope they are installed in: the API plugin (api.ts)
 * and the /metrics scope. Health checks, the page and the API docs are registered outside both,
 * so that probes and people can reach them without a key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClassifierError } from '../errors.ts';

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

/** Every route of `scope` (an encapsulated plugin's instance) answers 401 without a valid key; nothing when no keys are set. */
export function installApiKeys(scope: FastifyInstance, apiKeys: readonly string[]): void {
  if (apiKeys.length === 0) return;
  // Comparing fixed-length digests in constant time keeps key length and prefix from leaking through timing.
  const accepted = apiKeys.map(digestOf);
  scope.addHook('onRequest', async (request) => {
    const key = presentedKeyOf(request);
    const digest = key === null ? null : digestOf(key);
    let valid = false;
    for (const candidate of accepted) if (digest !== null && timingSafeEqual(candidate, digest)) valid = true;
    if (!valid) {
      throw new ClassifierError(
        'unauthorized',
        key === null
          ? 'This endpoint needs an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>".'
          : 'The API key is not valid.',
      );
    }
  });
}
