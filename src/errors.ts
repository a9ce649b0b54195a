import { type ErrorCode, type ErrorVariant, errorShapeOf, errorShapesOf, isErrorCode } from './error-catalogue.ts';

export { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode, type ErrorVariant, isErrorCode } from './error-catalogue.ts';

export interface ClassifierErrorOptions<C extends ErrorCode = ErrorCode> {
  cause?: unknown;
  /** A case of the code that answers with another status or retryable (see the catalogue). */
  variant?: ErrorVariant<C>;
}

/**
 * The one error type every user-facing failure is expressed in. `code` is stable (clients
 * branch on it), `message` is a sentence a person understands; `status` (the HTTP status the
 * service answers with) and `retryable` come from the error catalogue.
 */
export class ClassifierError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Transient failures (a timeout, a dropped connection) may succeed on retry; bad input never will. */
  readonly retryable: boolean;

  constructor(code: C, message: string, options: ClassifierErrorOptions<C> = {}) {
    super(message, { cause: options.cause });
    this.name = 'ClassifierError';
    this.code = code;
    const shape = errorShapeOf(code, options.variant);
    this.status = shape.status;
    this.retryable = shape.retryable;
  }
}

export function isClassifierError(err: unknown): err is ClassifierError {
  return err instanceof ClassifierError;
}

/** Any thrown value as a ClassifierError, so callers report one shape; unknown failures become `internal_error`. */
export function toClassifierError(err: unknown): ClassifierError {
  if (err instanceof ClassifierError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ClassifierError('internal_error', `Internal error: ${message}`, { cause: err });
}

/**
 * An error described elsewhere as a plain object (a worker thread's reply: errors do not survive
 * postMessage; a job record written by a worker process; a request fastify refused with a status)
 * as an error again. The status given is kept; retryable is that of the code's case with this
 * status. A code this version does not know becomes `internal_error`, so answers stay in the catalogue.
 */
export function errorFromReply(reply: { code: string; message: string; status: number }): ClassifierError {
  if (!isErrorCode(reply.code)) return new ClassifierError('internal_error', reply.message);
  const variant = errorShapesOf(reply.code).find(({ shape }) => shape.status === reply.status)?.variant;
  const error = new ClassifierError(reply.code, reply.message, { variant });
  if (error.status !== reply.status) Object.defineProperty(error, 'status', { value: reply.status });
  return error;
}

/** One answer for work arriving while the engine, a queue or the service is closing. */
export function shuttingDownError(): ClassifierError {
  return new ClassifierError('shutting_down', 'The service is shutting down and takes no new work.');
}

/** A setting (environment variable or flag) with a value that is not allowed. */
export function invalidSettingError(name: string, value: string, expected: string): ClassifierError {
  return new ClassifierError('invalid_setting', `${name}=${value} is not valid: expected ${expected}.`);
}

export function tooManyImagesError(limit: number): ClassifierError {
  return new ClassifierError('too_many_images', `A batch holds at most ${limit} images.`);
}

export function emptyJobError(): ClassifierError {
  return new ClassifierError('missing_image', 'The job has no image.');
}

export function emptyImageError(): ClassifierError {
  return new ClassifierError('empty_image', 'The image is empty (zero bytes).');
}
