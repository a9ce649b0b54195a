/**
 * The one error type every user-facing failure is expressed in. `code` is stable (clients
 * branch on it), `status` is the HTTP status the service answers with, `message` is a
 * sentence a person understands.
 */
export class ClassifierError extends Error {
  readonly code: string;
  readonly status: number;
  /** Transient failures (a timeout, a dropped connection) may succeed on retry; bad input never will. */
  readonly retryable: boolean;

  constructor(code: string, message: string, status = 400, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ClassifierError';
    this.code = code;
    this.status = status;
    this.retryable = options.retryable ?? false;
  }
}

export function isClassifierError(err: unknown): err is ClassifierError {
  return err instanceof ClassifierError;
}

/** Any thrown value as a ClassifierError, so callers report one shape; unknown failures become `internal_error`. */
export function toClassifierError(err: unknown): ClassifierError {
  if (err instanceof ClassifierError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ClassifierError('internal_error', `Internal error: ${message}`, 500, { cause: err });
}

/** A worker thread's error reply (a plain object: errors do not survive postMessage) as an error again. */
export function errorFromReply(error: { code: string; message: string; status: number }): ClassifierError {
  return new ClassifierError(error.code, error.message, error.status);
}
