/**
 * Fetching an image (or downloading a video) by URL without letting the URL reach into our own network (SSRF).
 *
 * Every address is checked before a socket connects to it:
 * - IP-literal hosts are checked before the request is made, and again in the connector,
 *   because net.connect does not call `lookup` for literals.
 * - Host names are resolved inside the connector's `lookup`, and the socket connects only to
 *   the addresses that were checked, so DNS cannot answer differently between check and connect.
 * Redirects are followed by hand so each hop goes through the same checks.
 */
import dns from 'node:dns';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { ClassifierError } from '../errors.ts';
import { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_URL_TIMEOUT_MS } from '../settings/table.ts';

export interface UrlFetchOptions {
  /** Download cap in bytes. */
  maxBytes: number;
  /** Limit for the whole fetch: every hop's connect, headers and body. */
  timeoutMs: number;
  maxRedirects: number;
  /** Disables the address guard entirely; for the CLI on a user's own machine. */
  allowPrivateNetworks: boolean;
  /**
   * Operator allow-list of host names (exact, case-insensitive), IPs and CIDRs permitted even
   * though private. Cloud metadata addresses are only opened by naming them exactly (IP or host
   * name); a broad CIDR such as 169.254.0.0/16 does not include them.
   */
  allowedHosts: string[];
}

export const DEFAULT_URL_FETCH_OPTIONS: UrlFetchOptions = Object.freeze({
  maxBytes: DEFAULT_MAX_IMAGE_BYTES,
  timeoutMs: DEFAULT_URL_TIMEOUT_MS,
  maxRedirects: 3,
  allowPrivateNetworks: false,
  // Frozen too: a caller pushing onto the shared default would widen every later fetch's allow-list.
  allowedHosts: Object.freeze([]) as unknown as string[],
}) as UrlFetchOptions;

/** A download's settings: the fetch's, and the longest wait for any byte. */
interface DownloadSettings extends UrlFetchOptions {
  stallMs: number;
}

export interface FetchedImage {
  bytes: Buffer;
  finalUrl: string;
  /** As the server claimed it; informational only, the decoder sniffs the bytes. */
  contentType: string | null;
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// Metadata services hand out cloud credentials, so they are listed even though the range
// checks below already cover them: an allow-listed CIDR must not open them by accident.
const CLOUD_METADATA_ADDRESSES = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200'].map((a) => ipaddr.parse(a));

// ipaddr calls ::a.b.c.d (deprecated IPv4-compatible) plain 'unicast', but some stacks tunnel it to IPv4.
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/** True for any address this service refuses to fetch from unless allow-listed. Unparseable input counts as forbidden. */
export function isForbiddenAddress(address: string): boolean {
  const parsed = parseAddress(address);
  if (!parsed) return true;
  if (isCloudMetadata(parsed)) return true;
  if (parsed.kind() === 'ipv6' && parsed.match(IPV4_COMPATIBLE)) return true;
  // Only ordinary global unicast is allowed; every special range (NAT64, 6to4, Teredo,
  // reserved, benchmarking, ...) is refused rather than decoded, since it may route anywhere.
  return parsed.range() !== 'unicast';
}

function parseAddress(address: string): Address | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!net.isIP(bare)) return null;
  const parsed = ipaddr.parse(bare);
  // A mapped address reaches the embedded IPv4 host, so judge that host instead.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed;
}

function isCloudMetadata(address: Address): boolean {
  return CLOUD_METADATA_ADDRESSES.some((m) => m.kind() === address.kind() && m.toString() === address.toString());
}

// ---------------------------------------------------------------------------------------------
// Allow-list

interface AddressPolicy {
  hostNames: Set<string>;
  addresses: Address[];
  ranges: [Address, number][];
}

function buildPolicy(allowedHosts: readonly string[]): AddressPolicy {
  const policy: AddressPolicy = { hostNames: new Set(), addresses: [], ranges: [] };
  for (const raw of allowedHosts) {
    const entry = raw.trim();
    if (!entry) continue;
    const asAddress = parseAddress(entry);
    if (asAddress) {
      policy.addresses.push(asAddress);
    } else if (entry.includes('/')) {
      policy.ranges.push(parseAllowedRange(entry));
    } else {
      policy.hostNames.add(normalizeHostName(entry));
    }
  }
  return policy;
}

function parseAllowedRange(entry: string): [Address, number] {
  try {
    const [network, bits] = ipaddr.parseCIDR(entry);
    return [network, bits];
  } catch (err) {
    throw new ClassifierError(
      'invalid_setting',
      `The URL allow-list entry "${entry}" is not a valid host name, IP address or CIDR range.`,
      { cause: err },
    );
  }
}

function normalizeHostName(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function isHostNameAllowed(hostName: string, policy: AddressPolicy): boolean {
  return policy.hostNames.has(normalizeHostName(hostName));
}

function isAddressPermitted(address: string, policy: AddressPolicy): boolean {
  const parsed = parseAddress(address);
  if (!parsed) return false;
  const sameAddress = (a: Address) => a.kind() === parsed.kind() && a.toString() === parsed.toString();
  if (policy.addresses.some(sameAddress)) return true;
  if (isCloudMetadata(parsed)) return false;
  if (!isForbiddenAddress(address)) return true;
  return policy.ranges.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
}

function notAllowed(what: string): ClassifierError {
  return new ClassifierError(
    'url_not_allowed',
    `The URL points to a private or reserved network address (${what}), which this service does not fetch from.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Guarded connections

function guardedLookup(policy: AddressPolicy): net.LookupFunction {
  return (hostName, options, callback) => {
    dns.lookup(hostName, { family: options.family, hints: options.hints, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      if (addresses.length === 0) return callback(dnsNotFound(hostName), '');
      // One bad answer refuses the host: a name that mixes public and internal addresses is an attack or a misconfiguration.
      if (!isHostNameAllowed(hostName, policy) && !addresses.every((a) => isAddressPermitted(a.address, policy))) {
        // The resolved address stays out of the message so the service is not an oracle for internal DNS.
        return callback(notAllowed(hostName) as NodeJS.ErrnoException, '');
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      callback(null, first.address, first.family);
    });
  };
}

function dnsNotFound(hostName: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostName}`), { code: 'ENOTFOUND' });
}

function guardedConnector(policy: AddressPolicy): buildConnector.connector {
  const connect = buildConnector({ lookup: guardedLookup(policy) });
  return (options, callback) => {
    // Second line of defence for literals: fetchImageFromUrl checks them first, but this
    // keeps the agent safe on its own.
    if (net.isIP(options.hostname) && !isAddressPermitted(options.hostname, policy)) {
      callback(notAllowed(options.hostname), null);
      return;
    }
    connect(options, callback);
  };
}

/** The connection pools for fetching images, one per address policy; closed with their owner. */
export class UrlFetcher {
  readonly #agents = new Map<string, Agent>();

  /**
   * Fetches an image by URL through the guards above; `options` fill in DEFAULT_URL_FETCH_OPTIONS.
   * `cancel` aborts the fetch early (the client that asked for it went away).
   */
  async fetch(url: string, options: Partial<UrlFetchOptions> = {}, cancel?: AbortSignal): Promise<FetchedImage> {
    const settings: UrlFetchOptions = { ...DEFAULT_URL_FETCH_OPTIONS, ...options };
    return this.#guarded(url, settings, cancel, 'image', (response, current, signal) =>
      readImage(response, current, signal, settings),
    );
  }

  /**
   * Downloads a video by URL into `file` (created with mode 0600; removed again on failure),
   * through the same guards and redirect checks as images. `timeoutMs` bounds the whole download
   * and `stallMs` any wait for the headers or the next bytes; past `maxBytes`: video_too_large_bytes.
   */
  async download(
    url: string,
    file: string,
    options: Partial<UrlFetchOptions> & { stallMs: number },
    cancel?: AbortSignal,
  ): Promise<{ finalUrl: string; bytes: number }> {
    const settings: DownloadSettings = { ...DEFAULT_URL_FETCH_OPTIONS, ...options };
    try {
      return await this.#guarded(url, settings, cancel, 'video', async (response, current, signal) => ({
        finalUrl: current.href,
        bytes: await writeCapped(response, current, file, signal, settings),
      }));
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }

  async #guarded<T>(
    url: string,
    settings: DownloadSettings | UrlFetchOptions,
    cancel: AbortSignal | undefined,
    what: 'image' | 'video',
    read: (response: Dispatcher.ResponseData, url: URL, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
    try {
      const policy = buildPolicy(settings.allowedHosts);
      const agent = this.#agentFor(settings, policy);
      let current = parseImageUrl(url);
      for (let redirects = 0; ; redirects++) {
        if (!settings.allowPrivateNetworks) checkLiteralHost(current, policy);
        const response = await send(agent, current, signal, settings, what);
        const location = redirectLocation(response);
        if (location === null) return await read(response, current, signal);

        discardBody(response);
        if (redirects >= settings.maxRedirects) {
          throw new ClassifierError(
            'too_many_redirects',
            `The URL redirected more than ${settings.maxRedirects} times.`,
          );
        }
        current = parseImageUrl(location, current);
      }
    } catch (err) {
      if (cancel?.aborted && !timeout.aborted) {
        throw new ClassifierError('fetch_failed', 'Fetching the URL was cancelled: the request went away.', {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** Closes the connection pools; a later fetch opens new ones. */
  async close(): Promise<void> {
    const open = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(open.map((agent) => agent.close()));
  }

  #agentFor(options: UrlFetchOptions, policy: AddressPolicy): Agent {
    const key = options.allowPrivateNetworks
      ? 'open'
      : `guarded:${[...options.allowedHosts]
          .map((h) => h.trim().toLowerCase())
          .sort()
          .join(',')}`;
    let agent = this.#agents.get(key);
    if (!agent) {
      agent = options.allowPrivateNetworks ? new Agent() : new Agent({ connect: guardedConnector(policy) });
      this.#agents.set(key, agent);
    }
    return agent;
  }
}

/** For callers without a fetcher of their own (tests, one-off scripts); the engine owns one per classifier. */
const sharedFetcher = new UrlFetcher();

export function fetchImageFromUrl(url: string, options: Partial<UrlFetchOptions> = {}): Promise<FetchedImage> {
  return sharedFetcher.fetch(url, options);
}

/** Closes the connection pools fetchImageFromUrl opened (a classifier closes its own in close()). */
export function closeUrlFetchAgents(): Promise<void> {
  return sharedFetcher.close();
}

// ---------------------------------------------------------------------------------------------
// Fetching

function parseImageUrl(raw: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new ClassifierError('invalid_url', 'The URL is not a valid URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClassifierError('invalid_url', `The URL must use http or https, not ${url.protocol.replace(/:$/, '')}.`);
  }
  // Credentials in a URL would be sent to whoever the URL (or a redirect) names.
  if (url.username || url.password) {
    throw new ClassifierError('invalid_url', 'The URL must not contain a user name or password.');
  }
  url.hash = '';
  return url;
}

function checkLiteralHost(url: URL, policy: AddressPolicy): void {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(host) && !isAddressPermitted(host, policy)) throw notAllowed(host);
}

async function send(
  agent: Agent,
  url: URL,
  signal: AbortSignal,
  settings: UrlFetchOptions | DownloadSettings,
  what: 'image' | 'video',
): Promise<Dispatcher.ResponseData> {
  const stallMs = 'stallMs' in settings ? settings.stallMs : undefined;
  try {
    return await agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { accept: `${what}/*, */*;q=0.5`, 'user-agent': 'marine-classifier' },
      signal,
      // A download may take long as a whole (timeoutMs), but never wait this long for a byte.
      ...(stallMs ? { headersTimeout: stallMs, bodyTimeout: stallMs } : {}),
    });
  } catch (err) {
    throw fetchError(err, url, signal, settings);
  }
}

function redirectLocation(response: Dispatcher.ResponseData): string | null {
  if (!REDIRECT_STATUSES.has(response.statusCode)) return null;
  const location = response.headers.location;
  const value = Array.isArray(location) ? location[0] : location;
  return value ? value : null;
}

async function readImage(
  response: Dispatcher.ResponseData,
  url: URL,
  signal: AbortSignal,
  settings: UrlFetchOptions,
): Promise<FetchedImage> {
  const { statusCode } = response;
  if (statusCode < 200 || statusCode > 299) {
    discardBody(response);
    throw remoteStatusError(statusCode);
  }
  const declared = Number(headerValue(response, 'content-length'));
  if (Number.isFinite(declared) && declared > settings.maxBytes) {
    discardBody(response);
    throw tooLarge(settings.maxBytes);
  }
  const bytes = await readCapped(response, url, signal, settings);
  return { bytes, finalUrl: url.href, contentType: headerValue(response, 'content-type') };
}

async function readCapped(
  response: Dispatcher.ResponseData,
  url: URL,
  signal: AbortSignal,
  settings: UrlFetchOptions,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += (chunk as Buffer).length;
      if (total > settings.maxBytes) throw tooLarge(settings.maxBytes);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    discardBody(response);
    throw fetchError(err, url, signal, settings);
  }
  return Buffer.concat(chunks, total);
}

/** The body into a new file, counted as it goes; the caller removes the file on failure. */
async function writeCapped(
  response: Dispatcher.ResponseData,
  url: URL,
  file: string,
  signal: AbortSignal,
  settings: DownloadSettings,
): Promise<number> {
  const { statusCode } = response;
  if (statusCode < 200 || statusCode > 299) {
    discardBody(response);
    throw remoteStatusError(statusCode);
  }
  const declared = Number(headerValue(response, 'content-length'));
  if (Number.isFinite(declared) && declared > settings.maxBytes) {
    discardBody(response);
    throw videoTooLarge(settings.maxBytes);
  }
  let total = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      done(total > settings.maxBytes ? videoTooLarge(settings.maxBytes) : null, chunk);
    },
  });
  try {
    await pipeline(response.body, count, createWriteStream(file, { mode: 0o600, flags: 'wx' }), { signal });
  } catch (err) {
    discardBody(response);
    throw fetchError(err, url, signal, settings);
  }
  return total;
}

/** Drops a body we will not read; the abort error it emits is expected, not a failure. */
function discardBody(response: Dispatcher.ResponseData): void {
  response.body.on('error', () => {});
  response.body.destroy();
}

function headerValue(response: Dispatcher.ResponseData, name: string): string | null {
  const value = response.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

function tooLarge(maxBytes: number): ClassifierError {
  return new ClassifierError(
    'image_too_large_bytes',
    `The image at the URL is larger than the ${maxBytes}-byte limit.`,
  );
}

function videoTooLarge(maxBytes: number): ClassifierError {
  return new ClassifierError(
    'video_too_large_bytes',
    `The video at the URL is larger than the ${maxBytes}-byte limit (MAX_VIDEO_URL_BYTES).`,
  );
}

function remoteStatusError(statusCode: number): ClassifierError {
  const serverFault = statusCode >= 500;
  return new ClassifierError('fetch_failed', `Fetching the URL failed: the server answered HTTP ${statusCode}.`, {
    variant: serverFault ? undefined : 'client_side',
  });
}

// ---------------------------------------------------------------------------------------------
// Mapping transport errors

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const NAME_NOT_FOUND_CODES = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA']);

function fetchError(
  err: unknown,
  url: URL,
  signal: AbortSignal,
  settings: UrlFetchOptions | DownloadSettings,
): ClassifierError {
  const own = findClassifierError(err);
  if (own) return own;
  const code = errorCode(err);
  if (
    !signal.aborted &&
    'stallMs' in settings &&
    (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
  ) {
    return new ClassifierError(
      'fetch_timeout',
      `Fetching the URL stopped: the server sent nothing for ${settings.stallMs} ms.`,
      {
        cause: err,
      },
    );
  }
  if (signal.aborted || (code && TIMEOUT_CODES.has(code))) {
    return new ClassifierError('fetch_timeout', `Fetching the URL took longer than ${settings.timeoutMs} ms.`, {
      cause: err,
    });
  }
  if (code && NAME_NOT_FOUND_CODES.has(code)) {
    return new ClassifierError(
      'fetch_failed',
      `Fetching the URL failed: the host ${url.hostname} could not be found.`,
      { variant: 'client_side', cause: err },
    );
  }
  // A certificate problem will not fix itself on retry; a dropped or refused connection might.
  const certificateProblem = code !== null && (code.startsWith('ERR_TLS') || code.includes('CERT'));
  return new ClassifierError('fetch_failed', `Fetching the URL failed: ${describe(code)}.`, {
    variant: certificateProblem ? 'bad_certificate' : undefined,
    cause: err,
  });
}

/** undici wraps some failures, so our own refusal (thrown inside lookup) may sit in `cause`. */
function findClassifierError(err: unknown): ClassifierError | null {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ClassifierError) return e;
  }
  return null;
}

function errorCode(err: unknown): string | null {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return null;
}

function describe(code: string | null): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'the server refused the connection';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was dropped';
    case 'EAI_AGAIN':
      return 'the host name could not be resolved right now';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'the server is unreachable';
    case null:
      return 'a network error occurred';
    default:
      return code.startsWith('ERR_TLS') || code.includes('CERT')
        ? `the TLS connection failed (${code})`
        : `a network error occurred (${code})`;
  }
}
