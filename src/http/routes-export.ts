import type { FastifyReply } from 'fastify';
import type { Routes } from './dependencies.ts';
import { jobNotFound } from './routes-jobs.ts';
import { JobParams, errorResponses } from './schemas.ts';
import { ExportBody, type ExportBodyValues, ExportQuery, ExportZip } from './schemas-export.ts';
import { surveyExportOf } from './survey-export.ts';

const DESCRIPTION = [
  'A finished batch or video job as a survey to publish: `format=camtrap-dp` answers a zip of the Camtrap DP 1.0.2',
  'package (datapackage.json, deployments.csv, media.csv, observations.csv), `format=dwc-a` a Darwin Core',
  'Archive (occurrence.txt, meta.xml, eml.xml), as `classify --format camtrap-dp|dwc-a` writes them.',
  'contributor and project_title are required; coordinates come from the photos’ EXIF GPS unless',
  'POST gives `deployments` rows. 409 job_not_finished while the job runs; 400 survey_incomplete when',
  'a contributor, a title or a deployment’s coordinates are missing; 400 invalid_deployments for bad rows.',
  'A video job is one media row and one `event` observation per span of its summary (docs/survey.md).',
].join('\n');

const zipResponse = { 200: { content: { 'application/zip': { schema: ExportZip } } }, ...errorResponses };

export const registerExportRoutes: Routes = (app, { queue, config, service }) => {
  async function send(id: string, request: ExportBodyValues, reply: FastifyReply) {
    const job = await queue.get(id);
    if (!job) throw jobNotFound(id);
    // A video job's answer has no per-frame model id: the service's model made it.
    const model = job.kind === 'video' ? ((await service.model())?.id ?? null) : null;
    const { bytes, fileName } = surveyExportOf(job, request.format, request, config.imageRoot, model);
    return reply
      .header('content-type', 'application/zip')
      .header('content-disposition', `attachment; filename="${fileName}"`)
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  app.get(
    '/jobs/:id/export',
    {
      schema: {
        summary: 'Download a finished batch or video job as a Camtrap DP package or a Darwin Core Archive',
        description: DESCRIPTION,
        tags: ['jobs'],
        params: JobParams,
        querystring: ExportQuery,
        response: zipResponse,
      },
    },
    (request, reply) => send(request.params.id, request.query, reply),
  );

  app.post(
    '/jobs/:id/export',
    {
      schema: {
        summary: 'The same export with deployments (coordinates, depth, habitat) in a JSON body',
        description: DESCRIPTION,
        tags: ['jobs'],
        params: JobParams,
        body: ExportBody,
        response: zipResponse,
      },
    },
    (request, reply) => send(request.params.id, request.body, reply),
  );
};
