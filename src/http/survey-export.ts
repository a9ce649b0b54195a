/**
 * A finished batch or video job as survey media: the same SurveyMedia the CLI collects from a
 * folder, so src/survey builds the package the same way. Which deployment an image (or the video)
 * belongs to: the request's `image_deployments`, else the first folder below IMAGE_ROOT for an
 * image_path or video_path (the CLI's rule), else the request's `deployment` (default: the job id).
 */
import path from 'node:path';
import { ClassifierError } from '../errors.ts';
import type { JobRecord } from '../queue/types.ts';
import { SETTINGS } from '../settings/table.ts';
import { type SurveyFormat, surveyArchiveOf } from '../survey/archive.ts';
import { buildCamtrapPackage, checkSurveyMetadata, type SurveyMedia } from '../survey/camtrap-dp.ts';
import { deploymentOf, deploymentsFromRows } from '../survey/deployments.ts';
import { formatOfName, packagePathOf } from '../survey/media-names.ts';
import type { ExportBodyValues } from './schemas-export.ts';

export interface SurveyExport {
  bytes: Uint8Array;
  fileName: string;
}

function deploymentOfSource(source: string, imageRoot: string | null, fallback: string) {
  const absolute = imageRoot && !/^https?:\/\//i.test(source) ? path.resolve(imageRoot, source) : null;
  if (absolute?.startsWith(path.resolve(imageRoot as string) + path.sep)) {
    const placed = deploymentOf(absolute, [imageRoot as string]);
    // A file directly in IMAGE_ROOT belongs to the request's deployment, not one named after the root.
    if (placed.filePath.includes('/')) return placed;
    return { deploymentID: fallback, filePath: placed.filePath };
  }
  return { deploymentID: fallback, filePath: packagePathOf(source) };
}

/**
 * A video job's video as one survey medium, its events from the job's summary. Without a
 * creation_time the job's arrival stands in (flagged), as for photos without EXIF time.
 */
function videoMediaOf(
  job: JobRecord,
  request: ExportBodyValues,
  imageRoot: string | null,
  model: string | null,
): SurveyMedia {
  const given = request.image_deployments;
  if (given && given.length !== 1)
    throw new ClassifierError(
      'invalid_deployments',
      `image_deployments has ${given.length} entries; job ${job.id} is a video job (one deploymentID, for its video).`,
    );
  const result = job.video;
  if (!result)
    throw new ClassifierError(
      'survey_incomplete',
      `Job ${job.id} is ${job.status} with no classified frame; there is nothing to publish.`,
    );
  const placed = deploymentOfSource(result.video.source, imageRoot, request.deployment ?? job.id);
  return {
    ...placed,
    deploymentID: given?.[0] ?? placed.deploymentID,
    format: result.video.format ?? null,
    modified: new Date(job.created_at),
    kind: 'video',
    video: { ...result, model },
    key: `${job.id}/video`,
  };
}

/** The job's images as survey media; an image that failed is kept, as an unclassified observation. */
export function surveyMediaOf(job: JobRecord, request: ExportBodyValues, imageRoot: string | null): SurveyMedia[] {
  const items = job.results ?? [];
  const given = request.image_deployments;
  if (given && given.length !== job.progress.total)
    throw new ClassifierError(
      'invalid_deployments',
      `image_deployments has ${given.length} entries; job ${job.id} has ${job.progress.total} images (one deploymentID each, in input order).`,
    );
  const fallback = request.deployment ?? job.id;
  // Without a file there is no modification time: the job's arrival stands in, and the deployment is flagged.
  const arrived = new Date(job.created_at);
  return items.map((item) => {
    const placed = deploymentOfSource(item.source, imageRoot, fallback);
    return {
      ...placed,
      deploymentID: given?.[item.index] ?? placed.deploymentID,
      format: item.result?.image.format ?? formatOfName(item.source),
      modified: arrived,
      result: item.result,
      key: `${job.id}/${item.index}`,
    };
  });
}

const HOW = { contributor: 'contributor=Name <email>', projectTitle: 'project_title' };

/**
 * The zip for a finished batch or video job, or the ClassifierError that says what is missing.
 * `model`: the service's model id, which a video job's answer does not carry (its frames' results would).
 */
export function surveyExportOf(
  job: JobRecord,
  format: SurveyFormat,
  request: ExportBodyValues,
  imageRoot: string | null,
  model: string | null = null,
): SurveyExport {
  if (job.kind !== 'batch' && job.kind !== 'video')
    throw new ClassifierError(
      'invalid_request',
      `Job ${job.id} is a ${job.kind === 'single' ? 'single-image' : job.kind} job; a survey export is made from a batch or video job (POST /jobs with images, or with a video).`,
    );
  if (job.status === 'queued' || job.status === 'running')
    throw new ClassifierError(
      'job_not_finished',
      `Job ${job.id} is ${job.status} (${job.progress.done} of ${job.progress.total} ${job.kind === 'video' ? 'frames' : 'images'} done); export it once it has succeeded.`,
    );
  const meta = {
    contributors: request.contributor ?? [],
    projectTitle: request.project_title ?? '',
  };
  checkSurveyMetadata(meta, HOW);
  const media =
    job.kind === 'video' ? [videoMediaOf(job, request, imageRoot, model)] : surveyMediaOf(job, request, imageRoot);
  if (!media.some((m) => m.result || m.video))
    throw new ClassifierError(
      'survey_incomplete',
      `Job ${job.id} is ${job.status} with no classified image; there is nothing to publish.`,
    );
  const pkg = buildCamtrapPackage(media, {
    ...meta,
    samplingDesign: request.sampling_design ?? SETTINGS.samplingDesign.default,
    captureMethod: request.capture_method ?? SETTINGS.captureMethod.default,
    utcOffset: request.utc_offset ?? null,
    deployments: deploymentsFromRows(request.deployments ?? []),
  });
  const base = `job-${job.id}`.replace(/[^A-Za-z0-9._-]+/g, '_');
  return {
    bytes: surveyArchiveOf(format, pkg),
    fileName: format === 'dwc-a' ? `${base}-dwc-a.zip` : `${base}-camtrap-dp.zip`,
  };
}
