/**
 * How request bodies are received, for every route: `Expect: 100-continue` is answered only once
 * the request has passed admission, keys and size; a body that stalls or trickles gets 408 and
 * loses its slot; and a body the answer made unnecessary (413, 401, 503 before it was read) is
 * read and dropped up to a bound, so the client sees its answer instead of a reset connection.
 * Fastify has no option for any of these; Node's server gives the pieces (checkContinue,
 * writeContinue, dumping unread bodies on keep-alive connections).
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClassifierError } from '../errors.ts';
import { type BodyPace, type BodyProblem, BodyWatch, bodyProblemText } from './body-watch.ts';

export interface BodyGuardOptions {
  pace: BodyPace;
  maxBodyBytes: number;
  /** Shutting down: connections close after their answer, nothing is drained. */
  isDraining: () => boolean;
}

/** A refused body up to this many times MAX_BODY_BYTES is read to its end, so its sender sees the answer. */
const DRAIN_FACTOR = 2;

interface BodyState {
  watch: BodyWatch;
  /** Set while the answer is decided and the rest of the body is read and dropped: stops waiting for it. */
  giveUp: (() => void) | null;
}

const bodies = new WeakMap<IncomingMessage, BodyState>();
/** Requests told "100 Continue": their clients send the body. */
const continued = new WeakSet<IncomingMessage>();

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) > 0);
}

function expectsContinue(req: IncomingMessage): boolean {
  return /^\s*100-continue\s*$/i.test(req.headers.expect ?? '');
}

function fitsLimit(request: FastifyRequest): boolean {
  const length = Number(request.headers['content-length']);
  return Number.isNaN(length) || length <= request.routeOptions.bodyLimit;
}

/** The watch over this request's body, made on first need; null where there is no real socket (inject). */
function bodyStateOf(request: FastifyRequest, options: BodyGuardOptions): BodyState | null {
  const req = request.raw;
  const existing = bodies.get(req);
  if (existing) return existing;
  if (typeof req.socket?.bytesRead !== 'number') return null;
  const state: BodyState = {
    giveUp: null,
    watch: new BodyWatch(
      req.socket,
      options.pace,
      () => req.complete,
      (problem) => onProblem(request, state, problem, options),
    ),
  };
  bodies.set(req, state);
  return state;
}

function onProblem(request: FastifyRequest, state: BodyState, problem: BodyProblem, options: BodyGuardOptions): void {
  const req = request.raw;
  if (state.giveUp) {
    request.log.info({ problem }, 'stopped reading the rest of an answered request body');
    state.giveUp();
    return;
  }
  // Nobody is reading the body: nobody could be told.
  if (req.listenerCount('error') === 0) {
    request.log.info({ problem }, 'request body cut off');
    req.socket.destroy();
    return;
  }
  // The body parser (fastify's, or busboy through @fastify/multipart) fails with this error, and
  // the answer is the usual error shape: 408, connection closed.
  req.emit('error', new ClassifierError('request_timeout', bodyProblemText(problem, options.pace)));
}

/**
 * Reads the rest of an answered request's body and drops it, then the answer goes out and the
 * connection can close cleanly: closing with bytes unread resets the connection, and the client
 * might never read its answer. Past DRAIN_FACTOR x MAX_BODY_BYTES, or below the body pace, the
 * answer goes out at once and the connection closes after it. Returns whether it was all read.
 */
async function dropRestOfBody(request: FastifyRequest, options: BodyGuardOptions): Promise<boolean> {
  const req = request.raw;
  const state = bodyStateOf(request, options);
  if (!state) return false;
  state.watch.limitTotal(DRAIN_FACTOR * options.maxBodyBytes);
  let onClose = (): void => {};
  const read = new Promise<boolean>((resolve) => {
    state.giveUp = () => resolve(false);
    onClose = () => resolve(false);
    req.once('end', () => resolve(true));
    req.socket.once('close', onClose);
  });
  req.resume();
  // The socket outlives this request when it is kept alive.
  return req.complete || read.finally(() => req.socket.off('close', onClose));
}

export function installBodyGuard(app: FastifyInstance, options: BodyGuardOptions): void {
  // Without a listener Node answers "100 Continue" itself, before any hook could refuse the request.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));

  app.addHook('preParsing', async (request, reply, payload) => {
    if (expectsContinue(request.raw) && fitsLimit(request)) {
      continued.add(request.raw);
      reply.raw.writeContinue();
    }
    if (hasBody(request.raw) && !request.raw.complete) bodyStateOf(request, options);
    return payload;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const req = request.raw;
    if (req.complete || !hasBody(req) || req.socket?.destroyed) return payload;
    // Too slow to wait for; and a client still waiting for "100 Continue" sends nothing more.
    if (reply.statusCode === 408) reply.header('connection', 'close');
    else if (!expectsContinue(req) || continued.has(req)) {
      if (!(await dropRestOfBody(request, options))) reply.header('connection', 'close');
    }
    return payload;
  });

  app.addHook('onResponse', async (request) => {
    bodies.get(request.raw)?.watch.stop();
  });
}
