/**
 * Wrong API keys per client address, in fixed windows: once an address has used its
 * budget it is refused (429) until its window ends, even with the right key, so that guessing
 * cannot go on and a lucky guess is not told apart. Other addresses keep their own budgets.
 */
import type { ServiceConfig } from './config.ts';

interface Window {
  failures: number;
  endsAt: number;
}

/** Addresses remembered at most; beyond it, the oldest windows are forgotten first. */
const MAX_ADDRESSES = 100_000;

export class AuthFailures {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();

  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  get max(): number {
    return this.#max;
  }

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  waitMs(address: string, now = Date.now()): number {
    const window = this.#current(address, now);
    return window && window.failures >= this.#max ? window.endsAt - now : 0;
  }

  /** Counts one failure of `address`; returns its failures in this window. */
  record(address: string, now = Date.now()): number {
    let window = this.#current(address, now);
    if (!window) {
      if (this.#windows.size >= MAX_ADDRESSES) this.#forgetOldest(now);
      window = { failures: 0, endsAt: now + this.#windowMs };
      this.#windows.set(address, window);
    }
    window.failures++;
    return window.failures;
  }

  #current(address: string, now: number): Window | undefined {
    const window = this.#windows.get(address);
    if (window && window.endsAt <= now) {
      this.#windows.delete(address);
      return undefined;
    }
    return window;
  }

  #forgetOldest(now: number): void {
    for (const [address, window] of this.#windows) {
      if (window.endsAt <= now || this.#windows.size >= MAX_ADDRESSES) this.#windows.delete(address);
      else break;
    }
  }
}

/**
 * The failure budget of a service: AUTH_FAILURE_MAX, never more than RATE_LIMIT_MAX when that is
 * set, per rate limit window; null without API keys or with both limits off.
 */
export function authFailuresOf(config: ServiceConfig): AuthFailures | null {
  if (config.apiKeys.length === 0) return null;
  const limits = [config.authFailureMax, config.rateLimitMax].filter((limit) => limit > 0);
  return limits.length === 0 ? null : new AuthFailures(Math.min(...limits), config.rateLimitWindowMs);
}
