/**
 * /class-sets: custom classes over HTTP. A set is made empty, photos are added with labels
 * (embedded by the engine here, or by a worker as an examples job in Redis mode or for large
 * uploads), it is shown with its evaluation, and `class_set` on /classify and /jobs answers with it.
 */
import type { FastifyRequest } from 'fastify';
import { checkLabels, type Evaluation, type LabelledImage, WEAK_RECALL } from '../classes/index.ts';
import { ClassifierError, tooManyImagesError } from '../errors.ts';
import { classSetViewOf } from '../queue/class-sets.ts';
import { sourceLabelOf } from '../queue/image-spec.ts';
import type { ClassSetAccess, Routes, TypedInstance } from './dependencies.ts';
import {
  base64Image,
  engineInputOfRequestImage,
  imageSpecOf,
  type RequestImage,
  refusedForm,
  urlImage,
} from './image-request.ts';
import { errorResponses } from './schemas.ts';
import {
  type AddExamplesBody,
  AddExamplesForm,
  AddExamplesQuery,
  addExamplesJsonBody,
  ClassSetLabelParams,
  ClassSetListResponse,
  ClassSetParams,
  ClassSetResponse,
  ClassSetShowResponse,
  CreateClassSetBody,
  type EvaluationValues,
  ExamplesAccepted,
  ExamplesResult,
  ShowClassSetQuery,
  UpdateClassSetBody,
} from './schemas-class-sets.ts';

/** More photos than this in one request run as a job (202) rather than while the client waits. */
export const SYNC_EXAMPLES_LIMIT = 32;

const TAGS = ['class-sets'];

interface LabelledUpload {
  label: string;
  image: RequestImage;
}

/** Multipart: `label` fields and files in order; each file takes the last label before it. */
async function readExamplesForm(
  request: FastifyRequest,
  maxImages: number,
  maxBytes: number,
): Promise<LabelledUpload[]> {
  const uploads: LabelledUpload[] = [];
  let label: string | null = null;
  let total = 0;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBytes, files: maxImages + 1, fieldSize: 4096 } })) {
      if (part.type !== 'file') {
        if (part.fieldname !== 'label')
          throw new ClassifierError(
            'invalid_request',
            `Unknown form field '${part.fieldname}'; send "label" fields and files.`,
          );
        label = String(part.value);
        continue;
      }
      if (label === null)
        throw new ClassifierError(
          'invalid_request',
          `The file ${part.filename || 'upload'} comes before any "label" field.`,
        );
      if (uploads.length >= maxImages) throw tooManyImagesError(maxImages);
      const bytes = await part.toBuffer();
      total += bytes.length;
      if (total > maxBytes)
        throw new ClassifierError('body_too_large', `The uploaded files together are larger than ${maxBytes} bytes.`);
      uploads.push({ label, image: { kind: 'bytes', bytes, label: part.filename || 'upload' } });
    }
  } catch (err) {
    throw refusedForm(request, err);
  }
  return uploads;
}

function jsonUploads(body: AddExamplesBody): LabelledUpload[] {
  return body.examples.map((item, i) => {
    const field = `examples[${i}]`;
    const given = [item.image_url, item.image_base64].filter((v) => v !== undefined);
    if (given.length !== 1)
      throw new ClassifierError(
        given.length ? 'ambiguous_image' : 'missing_image',
        `${field} needs exactly one of image_url or image_base64.`,
      );
    const image =
      item.image_url !== undefined
        ? urlImage(item.image_url, `${field}.image_url`)
        : base64Image(String(item.image_base64), `${field}.image_base64`, field);
    return { label: item.label, image };
  });
}

function sourceOf(image: RequestImage): string {
  return image.kind === 'bytes' ? image.label : sourceLabelOf(image);
}

/** The API's view of an evaluation: figures, the confusion matrix, and plain warnings. */
export function evaluationView(evaluation: Evaluation, calibratedThreshold: number): EvaluationValues {
  const { protocol } = evaluation;
  const weak = new Set(evaluation.needsMorePhotos.map((n) => n.label));
  const warnings: string[] = [];
  if (evaluation.labels.length === 1)
    warnings.push('The set has one label: every photo will be that label or "unknown".');
  for (const figures of evaluation.labels) {
    if (figures.examples === 1)
      warnings.push(`Label ${figures.label} has 1 photo; 10 or more give far better answers.`);
    else if (figures.confusedWith && figures.recall < WEAK_RECALL)
      warnings.push(`${figures.label} and ${figures.confusedWith} are confused: add photos of both.`);
  }
  return {
    method: protocol.kind,
    splits: protocol.kind === 'splits' ? protocol.splits : null,
    shots: protocol.kind === 'splits' ? protocol.shots : null,
    top1: evaluation.top1,
    top3: evaluation.top3,
    calibrated_threshold: calibratedThreshold,
    labels: evaluation.labels.map((f) => ({
      label: f.label,
      count: f.examples,
      precision: f.precision,
      recall: f.recall,
      needs_more_photos: weak.has(f.label),
    })),
    confusion: { labels: evaluation.confusion.labels, matrix: evaluation.confusion.counts },
    warnings,
  };
}

function registerReads(app: TypedInstance, sets: ClassSetAccess): void {
  app.get(
    '/class-sets',
    { schema: { summary: 'The class sets', tags: TAGS, response: { 200: ClassSetListResponse, ...errorResponses } } },
    async () => ({ sets: (await sets.store.list()).map(classSetViewOf) }),
  );

  app.get(
    '/class-sets/:name',
    {
      schema: {
        summary: 'A class set: labels with photo counts, model, and (evaluate=true) how well it tells them apart',
        tags: TAGS,
        params: ClassSetParams,
        querystring: ShowClassSetQuery,
        response: { 200: ClassSetShowResponse, ...errorResponses },
      },
    },
    async (request) => {
      const set = classSetViewOf(await sets.store.get(request.params.name));
      if (!request.query.evaluate) return { set, evaluation: null };
      const { evaluation, calibratedThreshold } = await sets.resolver.evaluate(request.params.name);
      return { set, evaluation: evaluationView(evaluation, calibratedThreshold) };
    },
  );
}

function registerWrites(app: TypedInstance, sets: ClassSetAccess, deps: Parameters<Routes>[1]): void {
  const { config, queue } = deps;
  app.post(
    '/class-sets',
    {
      schema: {
        summary: 'Make an empty class set',
        description:
          'Then add labelled photos with POST /class-sets/{name}/examples. 409 class_set_exists if the name is taken.',
        tags: TAGS,
        body: CreateClassSetBody,
        response: { 201: ClassSetResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const summary = await sets.store.create({ name: request.body.name, threshold: request.body.threshold ?? null });
      return reply.code(201).send({ set: classSetViewOf(summary) });
    },
  );

  app.patch(
    '/class-sets/:name',
    {
      schema: {
        summary: "Change a class set's threshold",
        description:
          'Answers below the threshold are `unknown`. A request or job can still override it with class_threshold.',
        tags: TAGS,
        params: ClassSetParams,
        body: UpdateClassSetBody,
        response: { 200: ClassSetResponse, ...errorResponses },
      },
    },
    async (request) => ({
      set: classSetViewOf(await sets.store.setThreshold(request.params.name, request.body.threshold)),
    }),
  );

  const jsonBody = addExamplesJsonBody(config.maxBatchImages);
  const addResponse = { 200: ExamplesResult, 202: ExamplesAccepted, ...errorResponses };
  app.post<{ Params: { name: string }; Querystring: { async?: boolean }; Body: AddExamplesBody | undefined }>(
    '/class-sets/:name/examples',
    {
      schema: {
        params: ClassSetParams,
        querystring: AddExamplesQuery,
        body: { content: { 'application/json': { schema: jsonBody } } },
        response: addResponse,
      },
      config: {
        swaggerTransform: ({ url }) => ({
          url,
          schema: {
            summary: 'Add labelled photos to a class set',
            description: [
              'A multipart form of `label` fields and files (each file takes the last `label` before it), or JSON',
              '`{"examples": [{"label": "clownfish", "image_url": "https://..."}, {"label": "...", "image_base64": "..."}]}`.',
              'Files that are not images are skipped and reported; a photo the set has already is counted once.',
              `Up to ${SYNC_EXAMPLES_LIMIT} photos are added while you wait (200); more, or async=true, or a service`,
              'with Redis workers answer 202 with a job: GET /jobs/{id} shows progress, and its `result` is the 200 body.',
            ].join('\n'),
            tags: TAGS,
            params: ClassSetParams,
            querystring: AddExamplesQuery,
            body: {
              content: {
                'application/json': { schema: jsonBody },
                'multipart/form-data': { schema: AddExamplesForm },
              },
            },
            response: addResponse,
          },
        }),
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const uploads = request.isMultipart()
        ? await readExamplesForm(request, config.maxBatchImages, config.maxBodyBytes)
        : jsonUploads(request.body ?? { examples: [] });
      if (uploads.length === 0)
        throw new ClassifierError('missing_image', 'No photos: send "label" fields each followed by files.');
      const images: LabelledImage[] = checkLabels(
        uploads.map(({ label, image }) => ({
          label,
          input: engineInputOfRequestImage(image),
          source: sourceOf(image),
        })),
      );
      await sets.store.get(name); // 404 before any work
      if (sets.teach && !request.query.async && uploads.length <= SYNC_EXAMPLES_LIMIT) return sets.teach(name, images);
      const job = await queue.submit({
        kind: 'examples',
        set: name,
        images: uploads.map(({ image }) => imageSpecOf(image)),
        labels: images.map((image) => image.label),
      });
      const statusUrl = `/jobs/${encodeURIComponent(job.id)}`;
      return reply.code(202).header('location', statusUrl).send({ job_id: job.id, status_url: statusUrl });
    },
  );

  app.delete(
    '/class-sets/:name',
    {
      schema: {
        summary: 'Remove a class set',
        tags: TAGS,
        params: ClassSetParams,
        response: { 204: { type: 'null', description: 'Removed.' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      await sets.store.remove(request.params.name);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/class-sets/:name/labels/:label',
    {
      schema: {
        summary: "Remove one label's photos from a class set",
        tags: TAGS,
        params: ClassSetLabelParams,
        response: { 200: ClassSetResponse, ...errorResponses },
      },
    },
    async (request) => {
      await sets.store.removeLabel(request.params.name, request.params.label);
      return { set: classSetViewOf(await sets.store.get(request.params.name)) };
    },
  );
}

export const registerClassSetRoutes: Routes = (app, deps) => {
  const sets = deps.classSets;
  if (!sets) return;
  registerReads(app, sets);
  registerWrites(app, sets, deps);
};
