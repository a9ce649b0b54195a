/**
 * The four ways a client sends images (JSON with a URL / base64 / path, a multipart upload, a raw
 * image body, a JSON batch) turned into one list of images plus options. Nothing here decodes an
 * image: bytes, URLs and paths go to the engine as they are, after the checks that need no
 * decoding (one source per image, URL scheme, base64 alphabet, paths only under IMAGE_ROOT).
 */
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { ImageInput } from '../engine/types.ts';
import { ClassifierError, tooManyImagesError } from '../errors.ts';
import { engineInputOf } from '../queue/image-spec.ts';
import type { ImageSpec, JobOptions } from '../queue/types.ts';
import { validationErrorOf, type ValidationIssue } from './errors.ts';
import {
  MultipartFields,
  type ClassifyBody,
  type ImageValues,
  type JobsBody,
  MultipartJobFields,
  type MultipartValues,
  type OptionValues,
  type VideoOptionValues,
} from './schemas.ts';
import { receiveUpload } from './upload-stream.ts';

/** An image as received; uploads stay a Buffer until a job needs them as JSON. */
export type RequestImage = ImageSpec | { kind: 'bytes'; bytes: Buffer; label: string };

export interface ImageRequest {
  images: RequestImage[];
  options: JobOptions;
  /** The client sent a list (`images`) or several files, so it gets an answer per image. */
  batch: boolean;
  /** POST /jobs: the form's file was a video (then `images` is empty), with the form's video options. */
  video?: { file: string; label: string; fields: VideoOptionValues };
}

export interface ImageRequestLimits {
  /** Largest total of uploaded bytes in a multipart form. */
  maxBodyBytes: number;
  /** 1 for POST /classify (a second image is ambiguous); the batch limit for POST /jobs. */
  maxImages: number;
  /** True only when the operator set IMAGE_ROOT. */
  allowPaths: boolean;
  /**
   * POST /jobs: a form's file may be a video (by its bytes), streamed to a temporary file of at
   * most `maxBytes`; `claim` is told each such file at once, so it is deleted whatever happens next.
   */
  video?: { maxBytes: number; claim: (file: string) => void } | null;
}

/**
 * What the routes hand over: the query and body as fastify validated them. The body is JSON only
 * when the request was JSON; a raw image is a Buffer and a multipart form leaves it undefined.
 */
export interface ImageRequestInput {
  query: OptionValues;
  body: ClassifyBody | JobsBody | Buffer | undefined | null;
}

const FILE_FIELDS = new Set(['file', 'image', 'files', 'images']);

export function engineInputOfRequestImage(image: RequestImage): ImageInput {
  return image.kind === 'bytes' ? image.bytes : engineInputOf(image);
}

/** The JSON-serializable form a job stores. */
export function imageSpecOf(image: RequestImage): ImageSpec {
  return image.kind === 'bytes' ? { kind: 'base64', data: image.bytes.toString('base64'), label: image.label } : image;
}

export function optionsOf(fields: OptionValues, base: JobOptions = {}): JobOptions {
  const options = { ...base };
  if (fields.top_k !== undefined) options.topK = fields.top_k;
  if (fields.marine_only !== undefined) options.marineOnly = fields.marine_only;
  if (fields.min_score !== undefined) options.minScore = fields.min_score;
  if (fields.class_set !== undefined) options.classSet = fields.class_set;
  if (fields.class_threshold !== undefined) options.classThreshold = fields.class_threshold;
  return options;
}

/** An http(s) URL image, checked (invalid_url) but not fetched. */
export function urlImage(text: string, field: string): ImageSpec {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClassifierError('invalid_url', `${field} is not an absolute URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClassifierError('invalid_url', `${field} must use http or https, not ${url.protocol.replace(/:$/, '')}.`);
  }
  return { kind: 'url', url: url.href };
}

const DATA_URL_PREFIX = /^data:[^,]*?;base64,/i;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** A base64 (or data: URL) image, checked (invalid_base64) but not decoded. */
export function base64Image(text: string, field: string, label: string): ImageSpec {
  let data = text.trim();
  if (/^data:/i.test(data)) {
    const prefix = DATA_URL_PREFIX.exec(data);
    if (!prefix) throw new ClassifierError('invalid_base64', `${field} is a data: URL that is not base64-encoded.`);
    data = data.slice(prefix[0].length);
  }
  data = data.replace(/\s+/g, '');
  // Buffer.from(…, 'base64') skips what it does not understand, so text that is not base64 would become garbage bytes.
  if (!BASE64.test(data) || data.length % 4 === 1)
    throw new ClassifierError('invalid_base64', `${field} is not valid base64.`);
  return { kind: 'base64', data, label };
}

function pathImage(text: string, field: string, limits: ImageRequestLimits): ImageSpec {
  if (!limits.allowPaths) {
    throw new ClassifierError(
      'files_not_allowed',
      'This service reads no local files (no IMAGE_ROOT is set); send the image itself or an http(s) URL.',
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    throw new ClassifierError('invalid_request', `${field} must be a path; send URLs as image_url.`);
  return { kind: 'path', path: text };
}

/** The images one object names (image_url / image_base64 / image_path), checked but not fetched. */
function imagesOf(fields: ImageValues, limits: ImageRequestLimits, item?: string): ImageSpec[] {
  const field = (name: string) => (item ? `${item}.${name}` : name);
  const images: ImageSpec[] = [];
  if (fields.image_url !== undefined) images.push(urlImage(fields.image_url, field('image_url')));
  if (fields.image_base64 !== undefined)
    images.push(base64Image(fields.image_base64, field('image_base64'), item ?? 'upload'));
  if (fields.image_path !== undefined) images.push(pathImage(fields.image_path, field('image_path'), limits));
  return images;
}

function batchItemOf(item: string | ImageValues, index: number, limits: ImageRequestLimits): ImageSpec {
  const name = `images[${index}]`;
  if (typeof item === 'string') return urlImage(item, name);
  const found = imagesOf(item, limits, name);
  if (found.length === 0)
    throw new ClassifierError(
      'missing_image',
      `${name} names no image; give one of image_url, image_base64 or image_path.`,
    );
  if (found.length > 1)
    throw new ClassifierError(
      'ambiguous_image',
      `${name} names more than one image; give exactly one of image_url, image_base64 or image_path.`,
    );
  return found[0];
}

function missingImage(): ClassifierError {
  return new ClassifierError(
    'missing_image',
    'The request has no image: send JSON with image_url or image_base64, a multipart form with a "file" field, or the image itself as the body.',
  );
}

function ambiguousImage(): ClassifierError {
  return new ClassifierError(
    'ambiguous_image',
    'The request names more than one image; send exactly one (POST /jobs takes batches).',
  );
}

function checkCount(images: RequestImage[], limits: ImageRequestLimits): void {
  if (images.length === 0) throw missingImage();
  if (images.length > limits.maxImages) {
    if (limits.maxImages === 1) throw ambiguousImage();
    throw tooManyImagesError(limits.maxImages);
  }
}

interface MultipartParts {
  files: RequestImage[];
  fields: Record<string, string>;
  video: { file: string; label: string } | null;
}

/** A file part's bytes, or (POST /jobs) the temporary file a video part was streamed to. */
async function readFilePart(
  file: Readable,
  toBuffer: () => Promise<Buffer>,
  limits: ImageRequestLimits,
): Promise<Buffer | { video: string }> {
  if (!limits.video) return toBuffer();
  const upload = await receiveUpload(file, {
    maxImageBytes: limits.maxBodyBytes,
    maxVideoBytes: limits.video.maxBytes,
    mustBeVideo: false,
  });
  if (upload.kind === 'image') return upload.bytes;
  limits.video.claim(upload.file);
  return { video: upload.file };
}

/** The form's files and text fields, within the limits; the rest of a refused form is drained. */
async function readMultipart(request: FastifyRequest, limits: ImageRequestLimits): Promise<MultipartParts> {
  const form: MultipartParts = { files: [], fields: {}, video: null };
  let totalBytes = 0;
  try {
    const parts = request.parts({
      limits: {
        // A video part is limited by receiveUpload, which must see the byte past the limit to refuse it.
        fileSize: limits.video ? Math.max(limits.maxBodyBytes, limits.video.maxBytes) + 1 : limits.maxBodyBytes,
        files: limits.maxImages + 1,
        fields: 16,
        fieldSize: 16 * 1024,
        parts: limits.maxImages + 17,
      },
    });
    for await (const part of parts) {
      if (part.type !== 'file') {
        addField(form.fields, part.fieldname, String(part.value));
        continue;
      }
      checkFilePart(part.fieldname, form.files.length, limits);
      if (form.video) throw ambiguousImage();
      const bytes = await readFilePart(part.file, () => part.toBuffer(), limits);
      if (!Buffer.isBuffer(bytes)) {
        if (form.files.length > 0) throw ambiguousImage();
        form.video = { file: bytes.video, label: part.filename || 'upload' };
        continue;
      }
      totalBytes += bytes.length;
      if (totalBytes > limits.maxBodyBytes) {
        throw new ClassifierError(
          'body_too_large',
          `The uploaded files together are larger than the limit of ${limits.maxBodyBytes} bytes.`,
        );
      }
      form.files.push({ kind: 'bytes', bytes, label: part.filename || 'upload' });
    }
  } catch (err) {
    throw refusedForm(request, err);
  }
  return form;
}

/** What to throw for a form refused half-way, after letting the rest of it drain. */
export function refusedForm(request: FastifyRequest, err: unknown): unknown {
  // The rest of the form is still arriving. Reading it to the end (and dropping it) keeps the
  // connection usable for the client's next request and lets the client read this answer
  // instead of seeing its upload cut off; Node does the same for bodies nobody read.
  request.raw.unpipe();
  request.raw.resume();
  if (err instanceof ClassifierError || typeof (err as { code?: unknown }).code === 'string') return err;
  // busboy's own complaints (no boundary, malformed headers, cut-off body) are the client's form.
  return new ClassifierError('invalid_multipart', `The multipart form could not be read: ${(err as Error).message}.`);
}

function checkFilePart(fieldname: string, filesSoFar: number, limits: ImageRequestLimits): void {
  if (!FILE_FIELDS.has(fieldname)) {
    throw new ClassifierError('invalid_request', `Unknown file field '${fieldname}'; name it "file" or "image".`);
  }
  if (filesSoFar >= limits.maxImages) {
    if (limits.maxImages === 1) throw ambiguousImage();
    throw tooManyImagesError(limits.maxImages);
  }
}

function addField(fields: Record<string, string>, name: string, value: string): void {
  if (Object.hasOwn(fields, name))
    throw new ClassifierError('invalid_request', `The form field '${name}' appears more than once.`);
  fields[name] = value;
}

async function multipartRequestOf(
  request: FastifyRequest,
  limits: ImageRequestLimits,
  base: JobOptions,
): Promise<ImageRequest> {
  const { files, fields, video } = await readMultipart(request, limits);
  const formFields = validFormFields(request, fields, limits.video ? MultipartJobFields : MultipartFields);
  const named = imagesOf(formFields, limits);
  if (video) {
    if (named.length > 0) throw ambiguousImage();
    return { images: [], options: optionsOf(formFields, base), batch: false, video: { ...video, fields: formFields } };
  }
  // Several files make a batch; a named image (image_url, image_path) stands alone.
  if (named.length > 1 || (named.length > 0 && files.length > 0)) throw ambiguousImage();
  const images = files.length > 0 ? files : named;
  checkCount(images, limits);
  return { images, options: optionsOf(formFields, base), batch: images.length > 1 };
}

/** The form's text fields checked against MultipartFields (ajv coerces the strings in place), or a 400. */
function validFormFields(
  request: FastifyRequest,
  fields: Record<string, string>,
  schema: typeof MultipartFields | typeof MultipartJobFields,
): MultipartValues & VideoOptionValues {
  const validate = request.compileValidationSchema(schema, 'body');
  if (!validate(fields)) throw validationErrorOf((validate.errors ?? []) as ValidationIssue[], 'body');
  // ajv has just checked and coerced them; its validate functions are not declared as type guards.
  return fields as MultipartValues & VideoOptionValues;
}

/** Reads the request's images and options, or throws the ClassifierError the client should get. */
export async function imageRequestOf(
  request: FastifyRequest,
  input: ImageRequestInput,
  limits: ImageRequestLimits,
): Promise<ImageRequest> {
  const base = optionsOf(input.query ?? {});
  if (request.isMultipart()) return multipartRequestOf(request, limits, base);

  const json = input.body;
  if (Buffer.isBuffer(json))
    return { images: [{ kind: 'bytes', bytes: json, label: 'upload' }], options: base, batch: false };
  if (json === undefined || json === null) throw missingImage();

  const batch = 'images' in json ? json.images : undefined;
  const single = imagesOf(json, limits);
  if (single.length > 1 || (single.length > 0 && batch !== undefined)) throw ambiguousImage();
  if (batch !== undefined) {
    const images = batch.map((item, index) => batchItemOf(item, index, limits));
    checkCount(images, limits);
    return { images, options: optionsOf(json, base), batch: true };
  }
  checkCount(single, limits);
  return { images: single, options: optionsOf(json, base), batch: false };
}
