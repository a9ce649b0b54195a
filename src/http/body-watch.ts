/**
 * How fast a request body arrives, judged from its socket's byte count. Watching the socket
 * rather than the request stream takes nothing from the stream: the body parser, busboy or
 * Node's own dumping of an unread body keep reading it as before.
 */
import type { Socket } from 'node:net';

export interface BodyPace {
  /** No byte for this long is a stall. */
  stallMs: number;
  /** Slowest average bytes/s, judged once the body has taken stallMs; 0: no minimum. */
  minRate: number;
}

export type BodyProblem =
  | { kind: 'stalled'; ms: number }
  | { kind: 'slow'; bytesPerSecond: number }
  | { kind: 'too_long'; bytes: number };

/** The sentence a client reads in its 408. */
export function bodyProblemText(problem: BodyProblem, pace: BodyPace): string {
  if (problem.kind === 'stalled')
    return `The request body stopped arriving: no bytes for ${Math.round(problem.ms / 1000)} s (the limit is ${pace.stallMs / 1000} s).`;
  if (problem.kind === 'slow')
    return `The request body arrives at ${problem.bytesPerSecond.toPrecision(2)} bytes/s, slower than the minimum of ${pace.minRate} bytes/s.`;
  return `The request body went on past ${problem.bytes} bytes after it was refused.`;
}

export class BodyWatch {
  readonly #socket: Socket;
  readonly #pace: BodyPace;
  readonly #onProblem: (problem: BodyProblem) => void;
  readonly #isDone: () => boolean;
  readonly #everyMs: number;
  readonly #timer: NodeJS.Timeout;
  #startBytes: number;
  #startedAt: number;
  #lastBytes: number;
  #lastProgressAt: number;
  #lastTickAt: number;
  #maxBytes = Number.POSITIVE_INFINITY;
  // Removed in stop(): a keep-alive socket serves many requests, and one listener each would pile up.
  readonly #onClose = (): void => this.stop();

  constructor(socket: Socket, pace: BodyPace, isDone: () => boolean, onProblem: (problem: BodyProblem) => void) {
    this.#socket = socket;
    this.#pace = pace;
    this.#isDone = isDone;
    this.#onProblem = onProblem;
    const now = performance.now();
    this.#startBytes = this.#lastBytes = socket.bytesRead;
    this.#startedAt = this.#lastProgressAt = this.#lastTickAt = now;
    this.#everyMs = Math.max(50, Math.min(1000, pace.stallMs / 4));
    this.#timer = setInterval(() => this.#tick(), this.#everyMs);
    this.#timer.unref();
    socket.once('close', this.#onClose);
  }

  /** At most `bytes` in all may arrive (an answered request whose body is being dropped). */
  limitTotal(bytes: number): void {
    this.#maxBytes = bytes;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#socket.off('close', this.#onClose);
  }

  #tick(): void {
    if (this.#isDone()) {
      this.stop();
      return;
    }
    const now = performance.now();
    const lag = now - this.#lastTickAt - this.#everyMs;
    this.#lastTickAt = now;
    // A blocked event loop reads nothing either: time it was blocked is not the client's.
    if (lag > this.#everyMs) {
      this.#lastProgressAt += lag;
      this.#startedAt += lag;
    }
    const problem = this.#problemAt(now);
    if (problem) {
      this.stop();
      this.#onProblem(problem);
    }
  }

  #problemAt(now: number): BodyProblem | null {
    const bytes = this.#socket.bytesRead;
    if (bytes !== this.#lastBytes) {
      this.#lastBytes = bytes;
      this.#lastProgressAt = now;
    }
    const received = bytes - this.#startBytes;
    if (received > this.#maxBytes) return { kind: 'too_long', bytes: received };
    const idle = now - this.#lastProgressAt;
    if (idle >= this.#pace.stallMs) return { kind: 'stalled', ms: idle };
    const elapsed = now - this.#startedAt;
    if (this.#pace.minRate > 0 && elapsed >= this.#pace.stallMs) {
      const bytesPerSecond = (received * 1000) / elapsed;
      if (bytesPerSecond < this.#pace.minRate) return { kind: 'slow', bytesPerSecond };
    }
    return null;
  }
}
