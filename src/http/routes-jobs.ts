import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { ClassifierError } from '../errors.ts';
import type { JobSpec } from '../queue/types.ts';
import { createAdmission } from './admission.ts';
import { allowLargerBody } from './body-guard.ts';
import type { Routes, TypedInstance, RouteDependencies } from './dependencies.ts';
import { type ImageRequestLimits, imageRequestOf, imageSpecOf } from './image-request.ts';
import {
  JobAccepted,
  JobParams,
  JobRecord,
  JobsQuery,
  documentedJobsBody,
  errorResponses,
  jobsJsonBody,
  type JobsBody,
  type JobsQueryValues,
} from './schemas.ts';
import { declaredTooLarge, RAW_IMAGE_TYPES, RAW_VIDEO_TYPE, receiveUpload } from './upload-stream.ts';
import { isUploadedVideo, refuseVideoOptions, type UploadedVideo, videoJobOf, videoSpecOf } from './video-request.ts';

const DESCRIPTION = [
  'Queues images for classification and answers 202 at once with the job id; poll GET /jobs/{id}.',
  'Takes everything POST /classify takes (one image gives a job with `result`), or a batch:',
  '`{"images": ["https://...", {"image_url": "..."}, {"image_base64": "..."}], "top_k": 3}`',
  'or a multipart form with several files; a batch job has `results`, one per image, in order.',
  'When the queue is full the answer is 503 `queue_full` with Retry-After.',
  'A video: the file itself as the body (`video/*`, or any video by its bytes; options such as `every` in the query),',
  "or as the form's file (options as form fields or in the query), at most MAX_VIDEO_BYTES, streamed to disk;",
  'or `{"video_url": "https://.../dive.mp4", "every": 2}` (downloaded where the job runs, same URL policy as images,',
  'at most MAX_VIDEO_URL_BYTES), or `{"video_path": "dives/d1.mp4"}` (a file inside IMAGE_ROOT). The job',
  'reports frames done/total and an ETA in `progress`, and answers `video` (timeline and summary); DELETE stops it at once.',
].join('\n');

/** Also the export routes' answer for an unknown id. */
export function jobNotFound(id: string): ClassifierError {
  return new ClassifierError('job_not_found', `There is no job ${id}; finished jobs are kept for a limited time.`);
}

/**
 * Raw bodies on POST /jobs are read by the route's own parsers: a video (video/*, or bytes that
 * are one) is streamed to a temporary file, an image is held as bytes as everywhere else.
 */
function installUploadParsers(scope: TypedInstance, config: RouteDependencies['config']): void {
  scope.removeContentTypeParser([...RAW_IMAGE_TYPES]);
  for (const type of [...RAW_IMAGE_TYPES, RAW_VIDEO_TYPE]) {
    scope.addContentTypeParser(type, async (request: FastifyRequest, payload: Readable) => {
      const contentType = request.headers['content-type'] ?? '';
      const limits = {
        maxImageBytes: config.maxBodyBytes,
        // An image/* body stays an image upload: a video sent so is taken only within MAX_BODY_BYTES.
        maxVideoBytes: /^image\//i.test(contentType) ? config.maxBodyBytes : config.maxVideoBytes,
        mustBeVideo: RAW_VIDEO_TYPE.test(contentType.split(';')[0].trim()),
      };
      const refused = declaredTooLarge(Number(request.headers['content-length']), limits);
      if (refused) throw refused;
      const upload = await receiveUpload(payload, limits);
      if (upload.kind === 'image') return upload.bytes;
      claimUpload(request, upload.file);
      return { kind: 'video-upload', file: upload.file, label: 'upload' } satisfies UploadedVideo;
    });
  }
}

/** Temporary video files a request wrote and has not handed to the queue yet: deleted when its answer is done. */
const unclaimed = new WeakMap<FastifyRequest, Set<string>>();

function claimUpload(request: FastifyRequest, file: string): void {
  const files = unclaimed.get(request) ?? new Set<string>();
  files.add(file);
  unclaimed.set(request, files);
}

async function dropUnclaimed(request: FastifyRequest): Promise<void> {
  const files = unclaimed.get(request);
  unclaimed.delete(request);
  if (files) await Promise.all([...files].map((file) => rm(file, { force: true }).catch(() => {})));
}

/** The bodies that may be video uploads may be as large as MAX_VIDEO_BYTES (a form: plus its headers and fields). */
function allowVideoBody(config: RouteDependencies['config']) {
  return async (request: FastifyRequest) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type === 'application/octet-stream' || RAW_VIDEO_TYPE.test(type))
      allowLargerBody(request, config.maxVideoBytes);
    else if (type === 'multipart/form-data') allowLargerBody(request, config.maxVideoBytes + 1024 * 1024);
  };
}

async function jobSpecOf(
  request: FastifyRequest<{ Body: JobsBody | Buffer | UploadedVideo; Querystring: JobsQueryValues }>,
  limits: ImageRequestLimits,
  maxVideoBytes: number,
): Promise<JobSpec> {
  const { body, query } = request;
  if (isUploadedVideo(body)) return videoJobOf({ kind: 'upload', file: body.file, label: body.label }, {}, query);
  const video = videoSpecOf(body, query, limits.allowPaths);
  if (video) return video;
  const {
    images,
    options,
    batch,
    video: formVideo,
  } = await imageRequestOf(
    request,
    { query, body: body as JobsBody | Buffer | undefined },
    // A form's file may be a video; it is this request's to delete until the queue takes it.
    { ...limits, video: { maxBytes: maxVideoBytes, claim: (file) => claimUpload(request, file) } },
  );
  if (formVideo)
    return videoJobOf({ kind: 'upload', file: formVideo.file, label: formVideo.label }, formVideo.fields, query);
  refuseVideoOptions(query);
  return { kind: batch ? 'batch' : 'single', images: images.map(imageSpecOf), options };
}

function registerSubmitRoute(app: TypedInstance, deps: RouteDependencies): void {
  const { queue, config } = deps;
  // Bounds the uploads being read at once; the queue itself bounds the jobs waiting.
  const admission = createAdmission({
    limit: config.queueLimit,
    perClient: config.queueLimitPerClient,
    refusal: (limit) => `The service is receiving ${limit} jobs already; try again shortly.`,
  });
  const limits: ImageRequestLimits = {
    maxBodyBytes: config.maxBodyBytes,
    maxImages: config.maxBatchImages,
    allowPaths: config.imageRoot !== null,
  };
  const body = jobsJsonBody(config.maxBatchImages);
  const postResponse = { 202: JobAccepted, ...errorResponses };

  // A scope of its own: the raw-body parsers below apply to this route only.
  app.register(async (plugin) => {
    const scope = plugin.withTypeProvider<TypeBoxTypeProvider>();
    installUploadParsers(scope, config);
    // However the request ends (refused, failed validation, client gone), an upload not queued is
    // deleted: on an error before the answer goes out (so the client never sees its file still there),
    // and after the answer or the client's going away otherwise.
    scope.addHook('onError', async (request) => dropUnclaimed(request));
    scope.addHook('onResponse', async (request) => dropUnclaimed(request));
    scope.addHook('onRequestAbort', async (request) => dropUnclaimed(request));
    scope.post(
      '/jobs',
      {
        schema: {
          querystring: JobsQuery,
          body: { content: { 'application/json': { schema: body } } },
          response: postResponse,
        },
        config: {
          swaggerTransform: ({ url }) => ({
            url,
            schema: {
              summary: 'Queue a classification job (one image, a batch, or a video)',
              description: DESCRIPTION,
              tags: ['jobs'],
              querystring: JobsQuery,
              body: documentedJobsBody(body, 'An image file; repeat the field for a batch'),
              response: postResponse,
            },
          }),
        },
        onRequest: [admission.onRequest, allowVideoBody(config)],
      },
      async (request, reply) => {
        const spec = await jobSpecOf(request as Parameters<typeof jobSpecOf>[0], limits, config.maxVideoBytes);
        const job = await queue.submit(spec);
        // Accepted: the queue owns the uploaded video now (and deletes it when the job ends).
        unclaimed.delete(request);
        const statusUrl = `/jobs/${encodeURIComponent(job.id)}`;
        return reply
          .code(202)
          .header('location', statusUrl)
          .send({ id: job.id, status: 'queued', status_url: statusUrl });
      },
    );
  });
}

function registerJobRecordRoutes(app: TypedInstance, { queue }: RouteDependencies): void {
  app.get(
    '/jobs/:id',
    {
      schema: {
        summary: 'A job’s status, progress and results',
        tags: ['jobs'],
        params: JobParams,
        response: { 200: JobRecord, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const job = await queue.get(id);
      if (!job) throw jobNotFound(id);
      return job;
    },
  );

  app.delete(
    '/jobs/:id',
    {
      schema: {
        summary: 'Cancel a queued job, or a running video job',
        description:
          'A job that has not started, or a video job at any time before it finishes (its ffmpeg is stopped at once); ' +
          'a running image job answers 409 job_not_cancellable.',
        tags: ['jobs'],
        params: JobParams,
        response: { 200: JobRecord, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const outcome = await queue.cancel(id);
      if (outcome === 'not_found') throw jobNotFound(id);
      if (outcome === 'not_cancellable') {
        const job = await queue.get(id);
        throw new ClassifierError(
          'job_not_cancellable',
          `Job ${id} is ${job?.status ?? 'finished'}; only queued jobs can be cancelled.`,
        );
      }
      const job = await queue.get(id);
      if (!job) throw jobNotFound(id);
      return job;
    },
  );
}

export const registerJobRoutes: Routes = (app, deps) => {
  registerSubmitRoute(app, deps);
  registerJobRecordRoutes(app, deps);
};
