import type { FastifyReply, FastifyRequest } from 'fastify';
import { ClassifierError } from '../errors.ts';

export interface Admission {
  /** Requests admitted and not yet answered. */
  inUse(): number;
  /** An onRequest hook: refuses with 503 queue_full (and Retry-After) once `limit` requests are in progress. */
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

/**
 * Bounded admission, checked before the body is read: memory for request bodies and work in the
 * engine stay bounded however many clients connect, and a refused client learns it at once
 * instead of after uploading.
 */
export function createAdmission(limit: number, refusal: (limit: number) => string): Admission {
  let inUse = 0;
  return {
    inUse: () => inUse,
    async onRequest(_request, reply) {
      if (inUse >= limit) throw new ClassifierError('queue_full', refusal(limit));
      inUse++;
      // 'close' fires once whether the answer was sent or the client went away.
      reply.raw.once('close', () => {
        inUse--;
      });
    },
  };
}
