/**
 * `classify --format camtrap-dp --output DIR` (or `--format dwc-a --output FILE.zip`): collects every photo's outcome, then writes the
 * survey as a Camtrap DP package when the run ends (the package's tables and metadata need all of
 * them: deployment coordinates and time spans, the taxonomic and temporal coverage).
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ClassifierError } from '../errors.ts';
import type { Settings } from '../settings/table.ts';
import {
  buildCamtrapPackage,
  type SurveyMedia,
  type SurveyMetadata,
  writeCamtrapPackage,
} from '../survey/camtrap-dp.ts';
import { darwinCoreArchiveOf } from '../survey/darwin-core.ts';
import { deploymentOf, readDeploymentsCsv } from '../survey/deployments.ts';
import type { ReportWriter } from './report-writer.ts';

const FORMAT_BY_EXTENSION: Record<string, string> = {
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.png': 'png',
  '.gif': 'gif',
  '.webp': 'webp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.avif': 'avif',
  '.heic': 'heic',
};

/** What the package needs besides the photos, checked before any photo is classified. */
export async function surveyMetadataOf(settings: Settings): Promise<SurveyMetadata> {
  const contributors = settings.contributors ?? [];
  if (contributors.length === 0)
    throw new ClassifierError(
      'survey_incomplete',
      'A Camtrap DP package needs a contributor: give --contributor "Name <email>".',
    );
  if (!settings.projectTitle)
    throw new ClassifierError('survey_incomplete', 'A Camtrap DP package needs a project title: give --project-title.');
  return {
    projectTitle: settings.projectTitle,
    contributors,
    samplingDesign: settings.samplingDesign,
    captureMethod: settings.captureMethod,
    utcOffset: settings.utcOffset ?? null,
    deployments: settings.deploymentsFile ? await readDeploymentsCsv(settings.deploymentsFile) : new Map(),
  };
}

/** The folders among the command line's inputs: a deployment is a folder below one of them. */
export async function surveyRootsOf(inputs: string[]): Promise<string[]> {
  const roots: string[] = [];
  for (const input of inputs) if ((await stat(input).catch(() => null))?.isDirectory()) roots.push(input);
  return roots;
}

export type SurveyFormat = 'camtrap-dp' | 'dwc-a';

/** camtrap-dp: the package in the folder `output`; dwc-a: the Darwin Core Archive in the zip file `output`. */
export function openSurveyWriter(
  format: SurveyFormat,
  output: string,
  roots: string[],
  meta: SurveyMetadata,
): ReportWriter {
  const media: Promise<SurveyMedia>[] = [];
  return {
    write(report) {
      const file = report.path;
      media.push(
        stat(file).then((info) => ({
          ...deploymentOf(file, roots),
          format: report.result?.image.format ?? FORMAT_BY_EXTENSION[path.extname(file).toLowerCase()] ?? null,
          modified: info.mtime,
          result: report.result,
        })),
      );
    },
    writeVideo(video) {
      // Camtrap DP media are photo files here; video frames are not exported yet (issue 16 is in progress).
      console.error(`warning: ${video} is a video; videos are not part of ${format} exports yet, so it was left out.`);
    },
    async close() {
      const all = await Promise.all(media);
      if (all.length === 0) return;
      const pkg = buildCamtrapPackage(all, meta);
      if (format === 'camtrap-dp') return writeCamtrapPackage(output, pkg);
      await mkdir(path.dirname(path.resolve(output)), { recursive: true });
      await writeFile(output, darwinCoreArchiveOf(pkg));
    },
  };
}
