import type { ServerResponse } from 'node:http';
import { createAdmission } from './admission.ts';
import type { Routes } from './dependencies.ts';
import { engineInputOfRequestImage, imageRequestOf } from './image-request.ts';
import {
  ClassificationResult,
  ClassifyJsonBody,
  ClassifyQuery,
  documentedImageBody,
  type ClassifyBody,
  type ClassificationValues,
  type ImageRoute,
  errorResponses,
} from './schemas.ts';

const DESCRIPTION = [
  'Classifies one image and answers at once. The image can be sent four ways:',
  '- JSON `{"image_url": "https://.../fish.jpg"}` (as the original service took it),',
  '- JSON `{"image_base64": "..."}` (a data: URL works too),',
  '- a multipart/form-data upload with the file in a field named `file` (or `image`),',
  '- the image itself as the body (`Content-Type: image/*` or `application/octet-stream`), options in the query string.',
  'Options: `top_k` (1..1000, default 5), `marine_only`, `min_score` (0..1).',
  'When the service already works on QUEUE_LIMIT images it answers 503 `queue_full` with Retry-After.',
].join('\n');

/** Aborts when the connection closes before the answer is sent: a URL fetch for nobody stops. */
function abortedOnClientGone(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}

export const registerClassifyRoutes: Routes = (app, deps) => {
  const { classify, config } = deps;
  const admission = createAdmission({
    limit: config.queueLimit,
    perClient: config.queueLimitPerClient,
    refusal: (limit) => `The service is classifying ${limit} images already; try again shortly.`,
  });
  const limits = { maxBodyBytes: config.maxBodyBytes, maxImages: 1, allowPaths: config.imageRoot !== null };
  const validated = {
    querystring: ClassifyQuery,
    body: { content: { 'application/json': { schema: ClassifyJsonBody } } },
  };
  const response = { 200: ClassificationResult, ...errorResponses };

  app.post<ImageRoute<ClassifyBody, ClassificationValues>>(
    '/classify',
    {
      schema: { ...validated, response },
      config: {
        swaggerTransform: ({ url }) => ({
          url,
          schema: {
            summary: 'Classify one image',
            description: DESCRIPTION,
            tags: ['classify'],
            querystring: ClassifyQuery,
            body: documentedImageBody(ClassifyJsonBody, 'The image file'),
            response,
          },
        }),
      },
      onRequest: admission.onRequest,
    },
    async (request, reply) => {
      const { images, options } = await imageRequestOf(request, request, limits);
      return classify(engineInputOfRequestImage(images[0]), options, abortedOnClientGone(reply.raw));
    },
  );
};
