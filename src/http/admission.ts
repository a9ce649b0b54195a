import type { FastifyReply, FastifyRequest } from 'fastify';
import { ClassifierError } from '../errors.ts';

export interface Admission {
  /** Requests admitted and not yet answered. */
  inUse(): number;
  /** An onRequest hook: refuses with 503 queue_full (and Retry-After) once the limit, or the client's share of it, is in use. */
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

export interface AdmissionLimits {
  /** Requests in progress at once, from everyone. */
  limit: number;
  /** Of those, the most one client address may hold; null: half of `limit`. */
  perClient: number | null;
  /** The refusal when everything is in use, e.g. "The service is classifying 256 images already". */
  refusal: (limit: number) => string;
}

/** Half the slots by default: one address (a scraper, or trickling uploads) can never lock the others out. */
export function perClientLimitOf(limits: AdmissionLimits): number {
  return Math.min(limits.limit, limits.perClient ?? Math.max(1, Math.ceil(limits.limit / 2)));
}

/**
 * Bounded admission, checked before the body is read: memory for request bodies and work in the
 * engine stay bounded however many clients connect, and a refused client learns it at once
 * instead of after uploading. Slots are counted per client address too, so one address cannot
 * hold them all; request.ip follows TRUST_PROXY.
 */
export function createAdmission(limits: AdmissionLimits): Admission {
  const perClient = perClientLimitOf(limits);
  const held = new Map<string, number>();
  let inUse = 0;
  const release = (address: string) => {
    inUse--;
    const count = (held.get(address) ?? 1) - 1;
    if (count === 0) held.delete(address);
    else held.set(address, count);
  };
  return {
    inUse: () => inUse,
    async onRequest(request, reply) {
      if (inUse >= limits.limit) throw new ClassifierError('queue_full', limits.refusal(limits.limit));
      const address = request.ip;
      const mine = held.get(address) ?? 0;
      if (mine >= perClient) {
        throw new ClassifierError(
          'queue_full',
          `Your address already has ${mine} requests in progress, the most one client may hold at once; try again when one has finished.`,
        );
      }
      inUse++;
      held.set(address, mine + 1);
      // 'close' fires once whether the answer was sent or the client went away.
      reply.raw.once('close', () => release(address));
    },
  };
}
