/**
 * One error shape for every failure: `{ error: { code, message, status }, request_id }`.
 * Fastify's and its plugins' own errors are translated to stable codes here, so a client never
 * sees FST_* codes or a 500 for input it got wrong.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES as STATUS_CODES_TEXT } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ClassifierError, type ErrorCode, errorFromReply, tooManyImagesError } from '../errors.ts';
import type { ErrorBody } from '../queue/types.ts';
import { MAX_JOB_ID_LENGTH } from './schemas.ts';

export interface ErrorResponseBody {
  error: ErrorBody;
  request_id: string;
}

/** One validation problem as ajv reports it. */
export interface ValidationIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Fields whose problems have their own codes, the same ones the engine uses. */
const FIELD_CODES: Record<string, ErrorCode> = { top_k: 'invalid_top_k', min_score: 'invalid_min_score' };

/** "/images/3/image_url" -> "images[3].image_url" */
function fieldName(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

export function validationErrorOf(issues: readonly ValidationIssue[], context: string): ClassifierError {
  // With a union, ajv lists each branch's complaint first and the union's own last; the last is the one that explains.
  const issue = issues.find((i) => i.keyword === 'anyOf') ?? issues[0];
  const where = context === 'querystring' ? 'query parameter' : 'field';
  if (!issue) return new ClassifierError('invalid_request', 'The request is not valid.');
  const field = fieldName(issue.instancePath);
  if (issue.keyword === 'additionalProperties') {
    const extra = String(issue.params.additionalProperty);
    const full = field ? `${field}.${extra}` : extra;
    return new ClassifierError('invalid_request', `Unknown ${where} '${full}'.`);
  }
  if (issue.keyword === 'required') {
    return new ClassifierError(
      'invalid_request',
      `The ${where} '${String(issue.params.missingProperty)}' is required.`,
    );
  }
  if (!field)
    return new ClassifierError(
      'invalid_request',
      `The request ${context === 'querystring' ? 'query' : 'body'} ${issue.message ?? 'is not valid'}.`,
    );
  if (issue.keyword === 'anyOf') {
    return new ClassifierError(
      'invalid_request',
      `The ${where} '${field}' must be an http(s) URL or an object with one of image_url, image_base64 or image_path.`,
    );
  }
  if (field === 'images' && issue.keyword === 'maxItems') {
    return tooManyImagesError(Number(issue.params.limit));
  }
  return new ClassifierError(
    FIELD_CODES[field] ?? 'invalid_request',
    `The ${where} '${field}' ${issue.message ?? 'is not valid'}.`,
  );
}

interface TranslationContext {
  maxBodyBytes: number;
}

type Translator = (err: FastifyError, context: TranslationContext) => ClassifierError;

const bodyTooLarge: Translator = (_err, { maxBodyBytes }) =>
  new ClassifierError('body_too_large', `The request body is larger than the limit of ${maxBodyBytes} bytes.`);

const FASTIFY_ERRORS: Record<string, Translator> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => new ClassifierError('invalid_json', 'The request body is not valid JSON.'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () =>
    new ClassifierError('invalid_json', 'The request body is empty, but its Content-Type says JSON.'),
  FST_ERR_CTP_BODY_TOO_LARGE: bodyTooLarge,
  FST_REQ_FILE_TOO_LARGE: bodyTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new ClassifierError(
      'unsupported_media_type',
      'This Content-Type is not accepted; send application/json, multipart/form-data, image/* or application/octet-stream.',
    ),
  FST_INVALID_MULTIPART_CONTENT_TYPE: () =>
    new ClassifierError('unsupported_media_type', 'The request is not multipart/form-data.'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    new ClassifierError('invalid_request', 'The request body is not as long as its Content-Length says.'),
  FST_FILES_LIMIT: () => new ClassifierError('too_many_images', 'The form has more files than this endpoint accepts.'),
  FST_PARTS_LIMIT: () => new ClassifierError('invalid_request', 'The form has too many parts.'),
  FST_FIELDS_LIMIT: () => new ClassifierError('invalid_request', 'The form has too many fields.'),
  FST_PROTO_VIOLATION: () => new ClassifierError('invalid_request', 'A form field name is not allowed.'),
  FST_MP_PREMATURE_CLOSE: () =>
    new ClassifierError('invalid_multipart', 'The multipart body ended before it was complete.'),
  FST_ERR_BAD_URL: () =>
    new ClassifierError('invalid_request', 'The request path is not a valid URL (a broken %-escape).'),
  FST_ERR_MAX_PARAM_LENGTH: () =>
    new ClassifierError(
      'uri_too_long',
      `A part of the request path is longer than ${MAX_JOB_ID_LENGTH} characters, which no id is.`,
    ),
};

const STATUS_CODES: Record<number, ErrorCode> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'body_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
};

/** Any thrown value as the ClassifierError the client is answered with. */
export function httpErrorOf(err: unknown, context: TranslationContext): ClassifierError {
  if (err instanceof ClassifierError) return err;
  const e = err as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (Array.isArray(e?.validation)) return validationErrorOf(e.validation, e.validationContext ?? 'body');
  const translate = typeof e?.code === 'string' ? FASTIFY_ERRORS[e.code] : undefined;
  if (translate) return translate(e, context);
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // The status is the one fastify or a plugin chose (e.g. 416 for a bad Range): kept as it is.
    return errorFromReply({
      code: STATUS_CODES[status] ?? 'invalid_request',
      message: `The request was refused: ${e.message}.`,
      status,
    });
  }
  return new ClassifierError(
    'internal_error',
    'The service failed unexpectedly; the failure is logged under this request id.',
    { cause: err },
  );
}

export function errorResponseOf(error: ClassifierError, requestId: string): ErrorResponseBody {
  return { error: { code: error.code, message: error.message, status: error.status }, request_id: requestId };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ClassifierError): FastifyReply {
  // Overload answers tell clients when to come back; the rate limiter sets its own.
  if (error.status === 503 && error.retryable && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
  if (error.status === 401) reply.header('www-authenticate', 'Bearer');
  return reply
    .code(error.status)
    .type('application/json; charset=utf-8')
    .send(errorResponseOf(error, String(request.id)));
}

/**
 * Fastify's `frameworkErrors` option: errors found before routing (a bad %-escape, an over-long
 * path parameter) answered like any other. Such a request has passed no hook, so its request id
 * header is set here.
 */
export function frameworkErrorsOf(
  context: TranslationContext,
): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (err, request, reply) => {
    const error = httpErrorOf(err, context);
    request.log.info({ code: error.code, status: error.status }, error.message);
    reply.header('x-request-id', request.id);
    sendError(request, reply, error);
  };
}

/** Node's parser errors by code; anything else it refuses is a malformed request. */
const CLIENT_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', message: 'The request did not arrive in time.' },
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large', message: 'The request headers are larger than the server reads.' },
};
const MALFORMED_REQUEST = {
  code: 'invalid_request',
  message: 'The request is not valid HTTP (a malformed request line or header).',
} as const;

/**
 * Fastify's `clientErrorHandler` option: Node's parser refused the request (a malformed or
 * oversized header, a timeout) before there is a request object, so the answer is written to the
 * socket directly, in the same shape, under a fresh request id.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { code, message } = CLIENT_ERRORS[err.code ?? ''] ?? MALFORMED_REQUEST;
  const error = new ClassifierError(code, message);
  const requestId = randomUUID();
  const body = JSON.stringify(errorResponseOf(error, requestId));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${error.status} ${STATUS_CODES_TEXT[error.status] ?? 'Error'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

export function installErrorHandling(app: FastifyInstance, context: TranslationContext): void {
  app.setErrorHandler((err, request, reply) => {
    const error = httpErrorOf(err, context);
    if (error.code === 'internal_error') request.log.error({ err }, 'request failed');
    else if (error.status >= 500) request.log.warn({ code: error.code, status: error.status }, error.message);
    else request.log.info({ code: error.code, status: error.status }, error.message);
    return sendError(request, reply, error);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ClassifierError(
      'not_found',
      `There is no ${request.method} ${request.url.split('?')[0]}; see /docs for the API.`,
    );
    return sendError(request, reply, error);
  });
}
