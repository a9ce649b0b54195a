/**
 * `classify --format camtrap-dp --output DIR` (or `--format dwc-a --output FILE.zip`): collects every photo's and video's outcome, then writes the
 * survey as a Camtrap DP package when the run ends (the package's tables and metadata need all of
 * them: deployment coordinates and time spans, the taxonomic and temporal coverage).
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { timelineEntryOf } from '../engine/video/classify-video.ts';
import { ClassifierError } from '../errors.ts';
import { sniffVideoFile } from '../sources/video/probe.ts';
import type { Settings } from '../settings/table.ts';
import type { SurveyFormat } from '../survey/archive.ts';
import {
  buildCamtrapPackage,
  type CamtrapPackage,
  checkSurveyMetadata,
  type SurveyMedia,
  type SurveyMetadata,
  writeCamtrapPackage,
} from '../survey/camtrap-dp.ts';
import { darwinCoreArchiveOf } from '../survey/darwin-core.ts';
import { formatOfName } from '../survey/media-names.ts';
import {
  deploymentsForResume,
  mergeCamtrapPackages,
  mediaKeyOf,
  packageMediaKeys,
  readCamtrapPackage,
} from '../survey/resume.ts';
import { deploymentOf, readDeploymentsCsv } from '../survey/deployments.ts';
import type { ReportWriter } from './report-writer.ts';

/** What the package needs besides the photos, checked before any photo is classified. */
export async function surveyMetadataOf(settings: Settings): Promise<SurveyMetadata> {
  const contributors = settings.contributors ?? [];
  const projectTitle = settings.projectTitle ?? '';
  checkSurveyMetadata({ contributors, projectTitle });
  return {
    projectTitle,
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

export type { SurveyFormat };

/** camtrap-dp: the package in the folder `output`; dwc-a: the Darwin Core Archive in the zip file `output`. */
export function openSurveyWriter(
  format: SurveyFormat,
  output: string,
  roots: string[],
  meta: SurveyMetadata,
  previous: CamtrapPackage | null = null,
): ReportWriter {
  const media: Promise<SurveyMedia>[] = [];
  return {
    write(report) {
      const file = report.path;
      media.push(
        stat(file).then((info) => ({
          ...deploymentOf(file, roots),
          format: report.result?.image.format ?? formatOfName(file),
          modified: info.mtime,
          result: report.result,
        })),
      );
    },
    writeVideo(file, { result }) {
      // One media row per video; its observations are the events of its summary (src/survey/video-events.ts).
      media.push(
        Promise.all([stat(file), result?.video.format ?? sniffVideoFile(file)]).then(([info, sniffed]) => ({
          ...deploymentOf(file, roots),
          format: sniffed,
          modified: info.mtime,
          kind: 'video' as const,
          video: result && {
            model: result.frames[0]?.result.model ?? null,
            video: result.video,
            timeline: result.frames.map(timelineEntryOf),
            summary: result.summary,
          },
        })),
      );
    },
    async close() {
      const all = await Promise.all(media);
      if (all.length === 0) return;
      const pkg = previous
        ? mergeCamtrapPackages(
            previous,
            buildCamtrapPackage(all, {
              ...meta,
              deployments: deploymentsForResume(previous, meta.deployments, new Set(all.map((m) => m.deploymentID))),
            }),
          )
        : buildCamtrapPackage(all, meta);
      if (format === 'camtrap-dp') return writeCamtrapPackage(output, pkg);
      await mkdir(path.dirname(path.resolve(output)), { recursive: true });
      await writeFile(output, darwinCoreArchiveOf(pkg));
    },
  };
}

/**
 * --resume over a package folder: the package as it stands (null when there is none yet) and which
 * of the found images it holds already (by deployment and path, as the package names them).
 */
export async function previousSurveyOf(
  format: SurveyFormat,
  output: string,
  roots: string[],
): Promise<{ previous: CamtrapPackage | null; done: (file: string) => boolean }> {
  if (format === 'dwc-a')
    throw new ClassifierError(
      'resume_unsupported',
      '--resume cannot add to a Darwin Core Archive (it is written whole at the end); resume a --format camtrap-dp package instead.',
    );
  const previous = await readCamtrapPackage(output);
  if (!previous) return { previous, done: () => false };
  const keys = packageMediaKeys(previous);
  return {
    previous,
    done: (file) => {
      const { deploymentID, filePath } = deploymentOf(file, roots);
      return keys.has(mediaKeyOf(deploymentID, filePath));
    },
  };
}
