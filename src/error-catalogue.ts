/**
 * Every error code the service and the CLI report, once: its HTTP status, whether retrying can
 * help, and what it means. The `ErrorCode` type, `ClassifierError`'s status and retryable, the
 * OpenAPI error schema and the README's list are all derived from this table.
 *
 * A code stays one problem. Where one problem has cases that answer differently (a remote 4xx is
 * the caller's URL, a remote 5xx is worth retrying), the case is a named variant of its code:
 * clients see the same code, the table documents each status.
 */

interface ErrorShape {
  status: number;
  /** Transient failures (a timeout, a dropped connection) may succeed on retry; bad input never will. */
  retryable: boolean;
  /** One line for the docs: what happened and what to do. */
  meaning: string;
}

interface ErrorEntry extends ErrorShape {
  variants?: Record<string, ErrorShape>;
}

export const ERROR_CATALOGUE = {
  // The request itself
  invalid_json: {
    status: 400,
    retryable: false,
    meaning: 'The body is not JSON, or is empty while its Content-Type says JSON.',
  },
  invalid_request: {
    status: 400,
    retryable: false,
    meaning:
      'The request does not fit the API: an unknown or missing field, a wrong type, a malformed form. ' +
      'Any other 4xx the server refuses a request with (e.g. 416 for a bad Range on the page) keeps that status.',
  },
  invalid_top_k: { status: 400, retryable: false, meaning: '`top_k` is not a whole number from 1 to 1000.' },
  invalid_min_score: { status: 400, retryable: false, meaning: '`min_score` is not a number from 0 to 1.' },
  invalid_multipart: { status: 400, retryable: false, meaning: 'The multipart form is cut short or cannot be read.' },
  missing_image: { status: 400, retryable: false, meaning: 'The request (or one batch entry) names no image.' },
  ambiguous_image: {
    status: 400,
    retryable: false,
    meaning: 'The request (or one batch entry) names more than one image.',
  },
  too_many_images: { status: 400, retryable: false, meaning: 'The batch has more images than `MAX_BATCH_IMAGES`.' },
  invalid_base64: {
    status: 400,
    retryable: false,
    meaning: '`image_base64` is not valid base64 (or a data: URL that is not base64).',
  },
  invalid_url: {
    status: 400,
    retryable: false,
    meaning: 'The URL (`image_url`, `video_url`) is not an absolute http(s) URL, or carries a user name or password.',
  },
  url_not_allowed: {
    status: 400,
    retryable: false,
    meaning: 'The URL leads to a private or reserved network address; `URL_ALLOW_HOSTS` can permit it.',
  },
  too_many_redirects: { status: 400, retryable: false, meaning: 'The URL redirected more often than allowed.' },
  files_not_allowed: {
    status: 400,
    retryable: false,
    meaning: 'A local path was sent where paths are not read (no `IMAGE_ROOT`); send the image or a URL.',
  },
  invalid_path: { status: 400, retryable: false, meaning: 'The image path contains a NUL character.' },
  not_a_file: { status: 400, retryable: false, meaning: 'The image path is a directory or another non-regular file.' },
  empty_image: { status: 400, retryable: false, meaning: 'The image has zero bytes.' },
  unknown_model: {
    status: 400,
    retryable: false,
    meaning: 'The model id is not in the catalogue; `marine-classifier models` lists them.',
  },
  resume_needs_output: { status: 400, retryable: false, meaning: 'CLI: `--resume` needs `--output FILE`.' },
  resume_unsupported: {
    status: 400,
    retryable: false,
    meaning: 'CLI: `--resume` needs `--format csv`, `jsonl`, `json` or `camtrap-dp` (not `table` or `dwc-a`).',
  },
  resume_mismatch: {
    status: 400,
    retryable: false,
    meaning: 'CLI: the `--output` file has other columns than this run writes.',
  },
  invalid_deployments: {
    status: 400,
    retryable: false,
    meaning:
      'The deployments CSV of a survey export has unknown columns, wrong types, duplicate ids or ids that match no folder.',
  },
  survey_incomplete: {
    status: 400,
    retryable: false,
    meaning:
      'A survey export lacks what the standard requires: a contributor, a project title, or coordinates for a deployment.',
  },
  unauthorized: {
    status: 401,
    retryable: false,
    meaning: 'API keys are configured and the request has none, or a wrong one.',
  },
  forbidden: { status: 403, retryable: false, meaning: 'The server refused the request (403).' },
  path_not_allowed: { status: 403, retryable: false, meaning: 'The image path leads outside `IMAGE_ROOT`.' },
  not_found: { status: 404, retryable: false, meaning: 'No such route; `/docs` lists the API.' },
  job_not_found: { status: 404, retryable: false, meaning: 'No such job; finished jobs are kept for a limited time.' },
  file_not_found: { status: 404, retryable: false, meaning: 'The image file does not exist.' },
  method_not_allowed: { status: 405, retryable: false, meaning: 'The route does not take this method.' },
  request_timeout: { status: 408, retryable: false, meaning: 'The request took too long to arrive.' },
  job_not_cancellable: {
    status: 409,
    retryable: false,
    meaning: 'The job already runs or is finished; only queued jobs can be cancelled.',
  },
  job_not_finished: {
    status: 409,
    retryable: true,
    meaning: 'A survey export of a job that is still queued or running; export once GET /jobs/{id} says succeeded.',
  },
  body_too_large: { status: 413, retryable: false, meaning: 'The request body is larger than `MAX_BODY_BYTES`.' },
  image_too_large_bytes: { status: 413, retryable: false, meaning: 'The image file is larger than the byte limit.' },
  image_too_many_pixels: { status: 413, retryable: false, meaning: 'The image has more pixels than the limit.' },
  job_too_large: { status: 413, retryable: false, meaning: "The job's images are larger than the queue holds." },
  uri_too_long: {
    status: 414,
    retryable: false,
    meaning: 'A part of the request path is longer than any valid value (e.g. a job id over 128 characters).',
  },
  not_an_image: { status: 415, retryable: false, meaning: 'The data is not an image in a supported format.' },
  unsupported_format: {
    status: 415,
    retryable: false,
    meaning: 'An image format that is not supported; send JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIC.',
  },
  unsupported_media_type: { status: 415, retryable: false, meaning: 'The Content-Type is not accepted here.' },
  corrupt_image: { status: 422, retryable: false, meaning: 'The image is truncated or corrupt and cannot be decoded.' },
  rate_limited: {
    status: 429,
    retryable: true,
    meaning: 'Too many requests from this client; retry after `Retry-After`.',
  },
  headers_too_large: {
    status: 431,
    retryable: false,
    meaning: 'The request headers are larger than the server reads (16 KiB in all).',
  },
  request_cancelled: {
    // nginx's "client closed request": only logs and metrics see it, the client has gone.
    status: 499,
    retryable: true,
    meaning: 'The client went away before its image was decoded; the work was dropped.',
  },

  // Videos (decoded by ffmpeg)
  not_a_video: {
    status: 415,
    retryable: false,
    meaning:
      'The file was sent as a video (a `video/*` body) but its bytes are no video container, or it looks like one but ffmpeg cannot read it.',
  },
  video_audio_only: {
    status: 415,
    retryable: false,
    meaning: 'The file has sound but no picture (no video stream, or only cover art).',
  },
  video_unsupported: {
    status: 415,
    retryable: false,
    meaning:
      'Videos need ffmpeg and this installation has none: install it (Debian/Ubuntu `apt-get install ffmpeg`) or set `FFMPEG_PATH`.',
  },
  video_too_large_bytes: {
    status: 413,
    retryable: false,
    meaning:
      'The uploaded video is larger than `MAX_VIDEO_BYTES` (in Redis mode, or `QUEUE_MAX_BYTES`; give larger videos by `video_url`), or the one at `video_url` than `MAX_VIDEO_URL_BYTES`.',
  },
  video_too_long: { status: 413, retryable: false, meaning: 'The video is longer than `MAX_VIDEO_SECONDS`.' },
  video_too_many_frames: {
    status: 413,
    retryable: false,
    meaning: 'The sampling would classify more frames than `MAX_VIDEO_FRAMES`; sample less often (`every`).',
  },
  video_no_frames: { status: 422, retryable: false, meaning: 'The video has a picture stream but no frame decodes.' },
  video_truncated: {
    status: 422,
    retryable: false,
    meaning: 'The video is cut short or corrupt part of the way in; the frames decoded before it are kept.',
  },
  video_stalled: {
    status: 422,
    retryable: false,
    meaning: 'ffmpeg gave no frame for `VIDEO_STALL_MS` and was stopped; the frames decoded before it are kept.',
  },
  video_timeout: {
    status: 422,
    retryable: false,
    meaning: 'Decoding the video took longer than `VIDEO_TIMEOUT_MS` and was stopped; the frames before it are kept.',
  },

  // The service, its settings and its model
  internal_error: {
    status: 500,
    retryable: false,
    meaning: 'An unexpected failure; it is logged under the request id.',
  },
  invalid_setting: {
    status: 500,
    retryable: false,
    meaning: 'A setting (environment variable or flag) has a value that is not allowed.',
  },
  model_not_found: { status: 500, retryable: false, meaning: 'No model file at `MODEL_PATH`.' },
  model_unsupported: {
    status: 500,
    retryable: false,
    meaning: 'The model file is not an ImageNet image classifier this service can run.',
  },
  model_unloadable: { status: 500, retryable: false, meaning: 'ONNX Runtime could not load the model file.' },
  embeddings_unavailable: {
    status: 422,
    retryable: false,
    meaning:
      'The model in use has no pooled feature vector the service could find before its classifier, so it still ' +
      'classifies but cannot give embeddings or custom classes; use a catalogue model.',
  },
  model_not_available: {
    status: 503,
    retryable: false,
    meaning: 'The model is not in the cache and downloading is turned off; download it or set `MODEL_PATH`.',
  },
  model_download_failed: {
    status: 503,
    retryable: true,
    meaning: 'Downloading the model failed on the network; try again.',
    variants: {
      permanent: {
        status: 503,
        retryable: false,
        meaning: 'The download was not the expected file (size, checksum) or the disk refused it.',
      },
    },
  },
  file_unreadable: {
    status: 500,
    retryable: false,
    meaning: 'The image file (or `IMAGE_ROOT`) could not be read.',
    variants: {
      permission_denied: { status: 403, retryable: false, meaning: 'The service may not read the image file.' },
      symlink_loop: { status: 400, retryable: false, meaning: 'The image path has too many levels of symbolic links.' },
    },
  },
  fetch_failed: {
    status: 502,
    retryable: true,
    meaning: 'The URL could not be fetched: the server failed (5xx) or the connection did; try again.',
    variants: {
      client_side: {
        status: 400,
        retryable: false,
        meaning: 'The URL names an unknown host, or its server answered 4xx; check the URL.',
      },
      bad_certificate: { status: 502, retryable: false, meaning: "The image server's TLS certificate is not valid." },
    },
  },
  fetch_timeout: { status: 504, retryable: true, meaning: 'Fetching the URL took longer than allowed, or stalled.' },

  // Queue, jobs and workers
  queue_full: {
    status: 503,
    retryable: true,
    meaning: 'The service or its job queue is at its limit; retry after `Retry-After`.',
  },
  queue_unavailable: { status: 503, retryable: true, meaning: "The job queue's Redis cannot be reached right now." },
  not_ready: {
    status: 503,
    retryable: true,
    meaning: 'The service is shutting down, or its job queue is not accepting jobs.',
  },
  shutting_down: {
    status: 503,
    retryable: true,
    meaning: 'The service is shutting down and takes no new work; send it elsewhere or later.',
  },
  worker_lost: {
    status: 503,
    retryable: true,
    meaning: 'The workers running the job stopped responding too often; submit it again.',
  },
  job_failed: {
    status: 500,
    retryable: false,
    meaning: 'The queue gave up on the job for a reason of its own (the message says which).',
  },
  classify_timeout: {
    status: 504,
    retryable: true,
    meaning: 'Redis mode: no worker finished the image in time; retry, or use `POST /jobs`.',
  },

  // Custom classes: class sets and their store
  invalid_class_set_name: {
    status: 400,
    retryable: false,
    meaning:
      'A class-set name is 1 to 64 characters: lower-case letters, digits, `-` and `_`, starting with a letter or digit.',
  },
  invalid_label: {
    status: 400,
    retryable: false,
    meaning:
      'A label is 1 to 100 characters without `/`, `\\`, `..` or control characters, not only spaces, and not `unknown`.',
  },
  invalid_example: {
    status: 400,
    retryable: false,
    meaning:
      "An example does not fit its set: the embedding's length differs from the set's, or it is not a unit vector, or the sha256 is not 64 hex digits.",
  },
  invalid_threshold: {
    status: 400,
    retryable: false,
    meaning: 'A class-set threshold is not a cosine similarity from -1 to 1.',
  },
  invalid_class_set_file: {
    status: 422,
    retryable: false,
    meaning:
      'The class-set export file is truncated, corrupt (checksum) or not an export of this program; nothing was imported.',
  },
  class_set_not_found: {
    status: 404,
    retryable: false,
    meaning: 'No class set has this name; `marine-classifier classes list` lists them.',
  },
  label_not_found: { status: 404, retryable: false, meaning: 'The class set has no examples under this label.' },
  class_set_exists: {
    status: 409,
    retryable: false,
    meaning: 'A class set with this name exists already; remove it first, or import with replace.',
  },
  class_set_model_mismatch: {
    status: 409,
    retryable: false,
    meaning:
      "The class set's embeddings were made by another model (its sha256 differs); run with that model, or rebuild the set from its photos with this one.",
  },
  class_set_empty: {
    status: 409,
    retryable: false,
    meaning: 'The class set has no photos yet: add labelled photos before classifying with it or exporting it.',
  },
  class_store_unavailable: {
    status: 503,
    retryable: true,
    meaning: 'The class-set store (its SQLite file in `DATA_DIR`, or Redis) cannot be reached or is busy right now.',
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

type Catalogue = typeof ERROR_CATALOGUE;

/** The variant names of one code (never for codes without variants). */
export type ErrorVariant<C extends ErrorCode = ErrorCode> = C extends ErrorCode
  ? Catalogue[C] extends { variants: infer V }
    ? keyof V & string
    : never
  : never;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

/** The code's status, retryable and meaning, or a variant's. */
export function errorShapeOf(code: ErrorCode, variant?: string): ErrorShape {
  const entry: ErrorEntry = ERROR_CATALOGUE[code];
  return (variant && entry.variants?.[variant]) || entry;
}

/** Every case of a code: the code's own shape first, then its variants. */
export function errorShapesOf(code: ErrorCode): { variant: ErrorVariant | undefined; shape: ErrorShape }[] {
  const entry: ErrorEntry = ERROR_CATALOGUE[code];
  const variants = Object.entries(entry.variants ?? {}).map(([variant, shape]) => ({
    variant: variant as ErrorVariant,
    shape,
  }));
  return [{ variant: undefined, shape: entry }, ...variants];
}

/** The README's list of codes: one row per code and per variant. */
export function errorTableMarkdown(): string {
  const rows = ERROR_CODES.flatMap((code) =>
    errorShapesOf(code).map(({ shape }) => [
      `\`${code}\``,
      String(shape.status),
      shape.retryable ? 'yes' : 'no',
      shape.meaning.replaceAll('|', '\\|'),
    ]),
  );
  return markdownTable(['code', 'HTTP status', 'retryable', 'meaning'], rows);
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
