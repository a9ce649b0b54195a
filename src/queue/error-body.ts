import { toClassifierError } from '../errors.ts';
import type { ErrorBody } from './types.ts';

/** Any failure as the JSON a job record (and the HTTP error answer) carries. */
export function errorBodyOf(err: unknown): ErrorBody {
  const e = toClassifierError(err);
  return { code: e.code, message: e.message, status: e.status };
}
