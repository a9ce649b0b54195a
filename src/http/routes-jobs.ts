import { ClassifierError } from '../errors.ts';
import { createAdmission } from './admission.ts';
import type { Routes, TypedInstance, RouteDependencies } from './dependencies.ts';
import { imageRequestOf, imageSpecOf } from './image-request.ts';
import { videoSpecOf } from './video-request.ts';
import {
  JobAccepted,
  JobParams,
  JobRecord,
  ClassifyQuery,
  documentedImageBody,
  errorResponses,
  jobsJsonBody,
  type ImageRoute,
  type JobAcceptedValues,
  type JobsBody,
} from './schemas.ts';

const DESCRIPTION = [
  'Queues images for classification and answers 202 at once with the job id; poll GET /jobs/{id}.',
  'Takes everything POST /classify takes (one image gives a job with `result`), or a batch:',
  '`{"images": ["https://...", {"image_url": "..."}, {"image_base64": "..."}], "top_k": 3}`',
  'or a multipart form with several files; a batch job has `results`, one per image, in order.',
  'When the queue is full the answer is 503 `queue_full` with Retry-After.',
  'A video: `{"video_path": "dives/d1.mp4", "every": 2}` (a file inside IMAGE_ROOT; in-process queue only): the job',
  'reports frames done/total and an ETA in `progress`, and answers `video` (timeline and summary); DELETE stops it at once.',
].join('\n');

/** Also the export routes' answer for an unknown id. */
export function jobNotFound(id: string): ClassifierError {
  return new ClassifierError('job_not_found', `There is no job ${id}; finished jobs are kept for a limited time.`);
}

function registerSubmitRoute(app: TypedInstance, deps: RouteDependencies): void {
  const { queue, config } = deps;
  // Bounds the uploads being read at once; the queue itself bounds the jobs waiting.
  const admission = createAdmission({
    limit: config.queueLimit,
    perClient: config.queueLimitPerClient,
    refusal: (limit) => `The service is receiving ${limit} jobs already; try again shortly.`,
  });
  const limits = {
    maxBodyBytes: config.maxBodyBytes,
    maxImages: config.maxBatchImages,
    allowPaths: config.imageRoot !== null,
  };
  const body = jobsJsonBody(config.maxBatchImages);
  const postResponse = { 202: JobAccepted, ...errorResponses };

  app.post<ImageRoute<JobsBody, JobAcceptedValues>>(
    '/jobs',
    {
      schema: {
        querystring: ClassifyQuery,
        body: { content: { 'application/json': { schema: body } } },
        response: postResponse,
      },
      config: {
        swaggerTransform: ({ url }) => ({
          url,
          schema: {
            summary: 'Queue a classification job (one image or a batch)',
            description: DESCRIPTION,
            tags: ['jobs'],
            querystring: ClassifyQuery,
            body: documentedImageBody(body, 'An image file; repeat the field for a batch'),
            response: postResponse,
          },
        }),
      },
      onRequest: admission.onRequest,
    },
    async (request, reply) => {
      const video = videoSpecOf(request.body, request.query, limits.allowPaths);
      const job = video
        ? await queue.submit(video)
        : await imageRequestOf(request, request, limits).then(({ images, options, batch }) =>
            queue.submit({ kind: batch ? 'batch' : 'single', images: images.map(imageSpecOf), options }),
          );
      const statusUrl = `/jobs/${encodeURIComponent(job.id)}`;
      return reply
        .code(202)
        .header('location', statusUrl)
        .send({ id: job.id, status: 'queued', status_url: statusUrl });
    },
  );
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
