/**
 * Request and response schemas. Request schemas are what fastify validates with; together with
 * the response schemas they are also the OpenAPI document served at /openapi.json and /docs.
 * Handlers take their types from them (Static<...>, through the TypeBox type provider). Responses
 * are not serialized through these (see app.ts), so the docs cannot silently change what a client
 * receives; test/http-contract.test.ts checks real answers against them instead.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TAXON_RANKS } from '../engine/marine.ts';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

// ---------------------------------------------------------------------------------------------
// Request pieces

export const TopK = Type.Integer({
  minimum: 1,
  maximum: 1000,
  description: 'How many predictions to return (default 5).',
});
export const MarineOnly = Type.Boolean({
  description: 'Rank only the marine classes, probabilities renormalized over them (default false).',
});
export const MinScore = Type.Number({
  minimum: 0,
  maximum: 1,
  description: 'Below this top-1 probability the answer is "unknown" (default 0).',
});

export const ClassSetName = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[a-z0-9][a-z0-9_-]*$',
  description: 'A class set name: lower-case letters, digits, "-" and "_".',
  examples: ['reef-fish'],
});
export const ClassThreshold = Type.Number({
  minimum: -1,
  maximum: 1,
  description:
    'A cosine similarity: below it the custom answer is "unknown". Default: the set\'s own, else calibrated from its photos.',
});

const ImageUrl = Type.String({
  minLength: 1,
  maxLength: 8192,
  description:
    'An http(s) URL the service downloads the image from. Private and internal addresses are refused unless the operator allow-listed them (URL_ALLOW_HOSTS).',
  examples: ['https://example.org/fish.jpg'],
});
const ImageBase64 = Type.String({
  description: 'The image file, base64-encoded; a data: URL ("data:image/jpeg;base64,...") is accepted too.',
});
const ImagePath = Type.String({
  minLength: 1,
  maxLength: 4096,
  description:
    'A file path inside the folder the operator set as IMAGE_ROOT; refused (files_not_allowed) when none is set.',
});

const optionFields = {
  top_k: Type.Optional(TopK),
  marine_only: Type.Optional(MarineOnly),
  min_score: Type.Optional(MinScore),
  // Type.Unsafe keeps the declared type nameable (a spread TypeBox object is not, for the build's .d.ts).
  class_set: Type.Optional(
    Type.Unsafe<string>({
      ...ClassSetName,
      description:
        'Answer with this class set (POST /class-sets): `answer` is its label or "unknown", and `custom` holds the details.',
    }),
  ),
  class_threshold: Type.Optional(ClassThreshold),
};

const imageFields = {
  image_url: Type.Optional(ImageUrl),
  image_base64: Type.Optional(ImageBase64),
  image_path: Type.Optional(ImagePath),
};

/** Options for raw-body and multipart requests (and allowed on any request). */
export const ClassifyQuery = Type.Object(optionFields, { additionalProperties: false });

export const ClassifyJsonBody = Type.Object(
  { ...imageFields, ...optionFields },
  { additionalProperties: false, description: 'Exactly one of image_url, image_base64 or image_path, and options.' },
);

/** Text fields of a multipart form; values arrive as strings and are coerced. */
export const MultipartFields = Type.Object(
  { image_url: Type.Optional(ImageUrl), image_path: Type.Optional(ImagePath), ...optionFields },
  { additionalProperties: false },
);

const ImageObject = Type.Object(imageFields, {
  additionalProperties: false,
  description: 'Exactly one of image_url, image_base64 or image_path.',
});

export const BatchImageItem = Type.Union(
  [Type.String({ minLength: 1, maxLength: 8192, description: 'An http(s) image URL.' }), ImageObject],
  { description: 'An image URL, or an object naming one image.' },
);

/** How a video job samples and summarises its video (POST /jobs: JSON fields, query parameters or form fields). */
const videoOptionFields = {
  every: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 86_400,
      description: 'Video: one frame every this many seconds (default 1).',
    }),
  ),
  fps: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1000,
      description: 'Video: this many frames per second instead of every.',
    }),
  ),
  keyframes: Type.Optional(Type.Boolean({ description: 'Video: only the keyframes (fastest).' })),
  min_frames: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description: 'Video: a class is in the summary from this many frames (default 1).',
    }),
  ),
  gap: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 86_400,
      description: 'Video: appearances this close (seconds) are one span (default 1).',
    }),
  ),
  smooth: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1001,
      description: 'Video: average scores over this many frames first (default 1).',
    }),
  ),
};

/** A video job's fields in a JSON body: the video, and its options. */
const videoFields = {
  video_path: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'A video file inside IMAGE_ROOT (MP4/MOV, MKV/WebM, AVI, FLV): the job gets a timeline and summary.',
    }),
  ),
  video_url: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 8192,
      description:
        'An http(s) URL of a video, downloaded where the job runs (same address policy as image_url, at most MAX_VIDEO_URL_BYTES); ffmpeg reads only the downloaded file.',
      examples: ['https://example.org/dive.mp4'],
    }),
  ),
  ...videoOptionFields,
};

/** POST /jobs query: the options, and a video's options (for a video sent as the body or in a form). */
export const JobsQuery = Type.Object({ ...optionFields, ...videoOptionFields }, { additionalProperties: false });

/** POST /jobs form fields: as POST /classify's, and a video's options. */
export const MultipartJobFields = Type.Object(
  { image_url: Type.Optional(ImageUrl), image_path: Type.Optional(ImagePath), ...optionFields, ...videoOptionFields },
  { additionalProperties: false },
);

export const VIDEO_OPTION_FIELDS = ['every', 'fps', 'keyframes', 'min_frames', 'gap', 'smooth'] as const;

export function jobsJsonBody(maxBatchImages: number) {
  return Type.Object(
    {
      ...imageFields,
      ...videoFields,
      images: Type.Optional(
        Type.Array(BatchImageItem, {
          minItems: 1,
          maxItems: maxBatchImages,
          description: `A batch of up to ${maxBatchImages} images.`,
        }),
      ),
      ...optionFields,
    },
    {
      additionalProperties: false,
      description:
        'One image (as for POST /classify), or `images`, a batch, or `video_path` or `video_url`, a video; plus options applied to every image or frame.',
    },
  );
}

export type OptionValues = Static<typeof ClassifyQuery>;
/** One object naming an image: a batch item, or the image fields of a request. */
export type ImageValues = Static<typeof ImageObject>;
export type ClassifyBody = Static<typeof ClassifyJsonBody>;
export type JobsBody = Static<ReturnType<typeof jobsJsonBody>>;
export type MultipartValues = Static<typeof MultipartFields>;
export type JobsQueryValues = Static<typeof JobsQuery>;
/** A video job's sampling and summary options, from wherever the request gave them. */
export type VideoOptionValues = Pick<JobsQueryValues, (typeof VIDEO_OPTION_FIELDS)[number]>;

/** Also the router's limit for any path parameter (app.ts): a longer one is 414 before routing. */
export const MAX_JOB_ID_LENGTH = 128;

export const JobParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: MAX_JOB_ID_LENGTH, description: 'The job id POST /jobs returned.' }),
});

// Documentation only: fastify does not validate these media types (the handler reads them).
const multipartForm = (files: string) =>
  Type.Object({
    file: Type.Optional(
      Type.String({ format: 'binary', description: `${files} (the field may also be named "image").` }),
    ),
    image_url: Type.Optional(ImageUrl),
    top_k: Type.Optional(TopK),
    marine_only: Type.Optional(MarineOnly),
    min_score: Type.Optional(MinScore),
    class_set: Type.Optional(ClassSetName),
    class_threshold: Type.Optional(ClassThreshold),
  });
const rawImage = Type.String({
  format: 'binary',
  description: 'The image file itself; options go in the query string.',
});

export function documentedImageBody(json: TSchema, files: string) {
  return {
    content: {
      'application/json': { schema: json },
      'multipart/form-data': { schema: multipartForm(files) },
      'image/*': { schema: rawImage },
      'application/octet-stream': { schema: rawImage },
    },
  };
}

const rawVideo = Type.String({
  format: 'binary',
  description:
    'A video file itself (MP4/MOV, MKV/WebM, AVI, FLV, recognised by its bytes), streamed to disk, at most MAX_VIDEO_BYTES; options (every, fps, ...) go in the query string.',
});

/** POST /jobs: as documentedImageBody, plus a video as the body or as the form's file (recognised by its bytes). */
export function documentedJobsBody(json: TSchema, files: string) {
  const form = multipartForm(`${files}; or one video (recognised by its bytes, at most MAX_VIDEO_BYTES)`);
  return {
    content: {
      ...documentedImageBody(json, files).content,
      'multipart/form-data': {
        schema: Type.Object({ ...form.properties, ...videoOptionFields }),
      },
      'application/octet-stream': {
        schema: Type.String({ format: 'binary', description: 'An image or a video file itself, by its bytes.' }),
      },
      'video/*': { schema: rawVideo },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Responses

/** Every code of the error catalogue; the README lists what each means. */
const ErrorCodeSchema = Type.Unsafe<ErrorCode>({
  type: 'string',
  enum: [...ERROR_CODES],
  description: 'Stable; clients branch on it (e.g. invalid_request, not_an_image, queue_full).',
});

const ErrorBody = Type.Object({
  code: ErrorCodeSchema,
  message: Type.String({ description: 'A sentence for people.' }),
  status: Type.Integer({ description: 'The HTTP status, repeated.' }),
});

export const ErrorResponse = Type.Object(
  {
    error: ErrorBody,
    request_id: Type.String({ description: 'Also in the X-Request-Id header; quote it when reporting a problem.' }),
  },
  { description: 'Every error answer has this shape.' },
);

const MarineInfo = Type.Object({
  group: Type.String({ description: 'e.g. shark, ray, bony fish, sea turtle, cetacean, crustacean.' }),
  scientific_name: Type.String({
    description:
      'The taxon the class identifies, at taxon_rank: a binomial (Carcharodon carcharias), or a genus, family, order, class or phylum for broad classes (Sphyrnidae for hammerhead).',
  }),
  taxon_rank: Type.Union(
    TAXON_RANKS.map((rank) => Type.Literal(rank)),
    { description: "Rank of scientific_name; Camtrap DP's taxonRank values." },
  ),
  vernacular_name: Type.String({ description: 'English name, e.g. "hammerhead sharks".' }),
  taxon_id: Nullable(
    Type.String({
      pattern: '^urn:lsid:marinespecies\\.org:taxname:[1-9][0-9]*$',
      description: 'WoRMS LSID where verified from a public source (docs/taxa.md), else null.',
    }),
  ),
});

const CustomAnswer = Type.Object(
  {
    set: Type.String(),
    label: Type.String({ description: 'The best custom label, or "unknown" below the threshold.' }),
    unknown: Type.Boolean(),
    similarity: Type.Number({ description: "Cosine similarity to the best label's prototype." }),
    threshold: Type.Number(),
    top: Type.Array(Type.Object({ label: Type.String(), similarity: Type.Number(), score: Type.Number() })),
  },
  { description: 'Present when class_set was given.' },
);

const Prediction = Type.Object({
  index: Type.Integer({ description: 'ImageNet-1k class index.' }),
  synset: Type.String(),
  label: Type.String(),
  probability: Type.Number(),
  marine: Nullable(MarineInfo),
});

export const ClassificationResult = Type.Object(
  {
    answer: Type.String({ description: 'The top-1 label, or "unknown" when it scored below min_score.' }),
    unknown: Type.Boolean(),
    top1: Nullable(Prediction),
    predictions: Type.Array(Prediction),
    model: Type.String(),
    image: Type.Object({
      width: Type.Integer(),
      height: Type.Integer(),
      format: Type.String(),
      taken_at: Nullable(Type.String({ description: 'EXIF capture time, camera-local, ISO-8601 without zone.' })),
      latitude: Nullable(Type.Number()),
      longitude: Nullable(Type.Number()),
    }),
    timings: Type.Object({
      fetch_ms: Type.Number(),
      decode_ms: Type.Number(),
      queue_ms: Type.Number(),
      inference_ms: Type.Number(),
      total_ms: Type.Number(),
    }),
    sha256: Type.String({ description: 'Of the image bytes.' }),
    custom: Type.Optional(CustomAnswer),
  },
  { additionalProperties: true },
);

export const ClassSetView = Type.Object({
  name: Type.String(),
  model: Nullable(
    Type.Object(
      { id: Type.String(), sha256: Type.String() },
      { description: 'The model whose embeddings the set holds; null until the first photo is embedded.' },
    ),
  ),
  dim: Nullable(Type.Integer({ description: 'Length of each embedding; null while model is.' })),
  threshold: Nullable(Type.Number({ description: "The set's own threshold; null: calibrated from its photos." })),
  labels: Type.Array(Type.Object({ label: Type.String(), count: Type.Integer() }), {
    description: 'Sorted by label.',
  }),
  examples: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const ExamplesResult = Type.Object({
  added: Type.Integer({ description: 'Photos stored.' }),
  duplicates: Type.Array(Type.Object({ source: Type.String(), label: Type.String(), existing_label: Type.String() }), {
    description: 'Photos the set holds already (same bytes): counted once, under existing_label.',
  }),
  skipped: Type.Array(Type.Object({ source: Type.String(), error: ErrorBody }), {
    description: 'Files that could not be read as images; the rest were stored.',
  }),
  set: ClassSetView,
});

export const JobAccepted = Type.Object({
  id: Type.String(),
  status: Type.Literal('queued'),
  status_url: Type.String({ description: 'Poll this (GET) for progress and results; also in the Location header.' }),
});

const Timecode = Type.String({ description: 'hh:mm:ss.mmm', pattern: '^\\d{2,}:\\d{2}:\\d{2}\\.\\d{3}$' });

const SummaryEntry = Type.Object({
  label: Type.String({ description: 'The class (or, in `groups`, the marine group).' }),
  group: Nullable(Type.String()),
  frames: Type.Integer(),
  appearances: Type.Integer({ description: 'Separate spans.' }),
  first_seen: Timecode,
  first_seen_seconds: Type.Number(),
  last_seen: Timecode,
  last_seen_seconds: Type.Number(),
  seconds_on_screen: Type.Number(),
  spans: Type.Array(
    Type.Object({ start: Timecode, end: Timecode, start_seconds: Type.Number(), end_seconds: Type.Number() }),
  ),
  best_probability: Type.Number(),
  mean_probability: Type.Number(),
  best_frame: Timecode,
  best_frame_seconds: Type.Number(),
});

export const VideoJobResult = Type.Object(
  {
    video: Type.Object({
      source: Type.String(),
      duration: Nullable(Type.Number()),
      width: Type.Integer(),
      height: Type.Integer(),
      frame_rate: Nullable(Type.Number()),
      codec: Type.String(),
      container: Type.String(),
      format: Nullable(
        Type.String({ description: 'The container its first bytes name: mp4, mov, matroska, webm, avi or flv.' }),
      ),
      creation_time: Nullable(Type.String()),
      sampling: Type.Union([
        Type.Object({ every_seconds: Type.Number() }),
        Type.Object({ keyframes: Type.Literal(true) }),
      ]),
    }),
    timeline: Type.Array(
      Type.Object(
        {
          timecode: Timecode,
          seconds: Type.Number(),
          answer: Type.String(),
          unknown: Type.Boolean(),
          marine_group: Nullable(Type.String()),
          predictions: Type.Array(Prediction),
        },
        { additionalProperties: true },
      ),
      { description: 'One entry per sampled frame, in time order.' },
    ),
    summary: Type.Object({
      frames: Type.Integer(),
      classes: Type.Array(SummaryEntry),
      groups: Type.Array(SummaryEntry),
      min_frames: Type.Integer(),
      gap_seconds: Type.Number(),
      smooth_frames: Type.Integer(),
    }),
  },
  { description: 'Video jobs: what the video is, its timeline and its summary (docs/video.md).' },
);

export const JobRecord = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('single'), Type.Literal('batch'), Type.Literal('examples'), Type.Literal('video')]),
  status: Type.Union(['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => Type.Literal(s))),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
  progress: Type.Object({
    done: Type.Integer({ description: 'Images (video jobs: frames) finished, successfully or not.' }),
    failed: Type.Integer({ description: 'Of those, the ones that failed.' }),
    total: Type.Integer({ description: 'Video jobs: frames expected from the header (0 until it is read).' }),
    eta_seconds: Type.Optional(Nullable(Type.Number({ description: 'Video jobs: seconds left at the pace so far.' }))),
  }),
  video: Type.Optional(Nullable(VideoJobResult)),
  result: Type.Optional(
    Nullable(Type.Union([ClassificationResult, ExamplesResult], { description: 'Examples jobs: what was added.' })),
  ),
  results: Type.Optional(
    Type.Array(
      Type.Object({
        index: Type.Integer(),
        source: Type.String({ description: 'The URL, path or uploaded file name.' }),
        result: Type.Optional(ClassificationResult),
        error: Type.Optional(ErrorBody),
      }),
      { description: 'Batch jobs: finished images in input order.' },
    ),
  ),
  error: Type.Optional(Nullable(ErrorBody)),
});

export const HealthResponse = Type.Object({ status: Type.String() });

export const ReadyResponse = Type.Object({
  status: Type.Literal('ready'),
  model: Type.String(),
  queue: Type.Object({ waiting: Type.Integer(), active: Type.Integer(), workers: Type.Integer() }),
});

const CatalogueEntry = Type.Object({
  id: Type.String(),
  description: Type.String(),
  url: Type.String(),
  bytes: Type.Integer(),
  sha256: Type.String(),
  inputLayout: Type.String(),
  inputSize: Type.Integer(),
  preprocessing: Type.String(),
  license: Type.String(),
  accuracy: Type.Object(
    { top1: Type.Number(), top5: Type.Number() },
    { description: 'ImageNet validation accuracy (%) as the ONNX Model Zoo publishes it' },
  ),
  speed: Type.Union(
    [Type.Object({ model_images_per_s: Type.Number(), service_requests_per_s: Type.Number() }), Type.Null()],
    {
      description:
        'What npm run bench measured on a 2-core AVX512-VNNI EPYC VM: the model alone at batch 8, and POST /classify uploads at 16 clients; null where not measured',
    },
  ),
});

export const ModelsResponse = Type.Object({
  model: Type.Object({
    id: Type.String(),
    path: Type.String(),
    signature: Type.Object({
      inputName: Type.String(),
      outputName: Type.String(),
      layout: Type.String(),
      size: Type.Integer(),
      fixedBatch: Nullable(Type.Integer()),
      classes: Type.Integer(),
    }),
    catalogue: Nullable(CatalogueEntry),
    choice: Nullable(
      Type.String({ description: 'Why this model, when the service chose it because none was configured' }),
    ),
  }),
  catalogue: Type.Array(CatalogueEntry),
});

export const errorResponses = { '4xx': ErrorResponse, '5xx': ErrorResponse };

/**
 * The types of a route that takes an image four ways. The type provider cannot see through a
 * per-media-type (`content`) body schema, and naming the body means naming the rest too: the JSON
 * as validated, a raw image's bytes, or nothing for a multipart form (read from the request).
 */
export interface ImageRoute<Json, Reply> {
  Body: Json | Buffer | undefined;
  Querystring: OptionValues;
  Reply: Reply | Static<typeof ErrorResponse>;
}
export type ClassificationValues = Static<typeof ClassificationResult>;
export type JobAcceptedValues = Static<typeof JobAccepted>;
