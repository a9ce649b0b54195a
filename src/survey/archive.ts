/**
 * A survey as one file to download or write: a Camtrap DP package zipped as its folder, or the
 * Darwin Core Archive. The CLI and the HTTP export both end here.
 */
import { strToU8, zipSync } from 'fflate';
import { type CamtrapPackage, camtrapFilesOf } from './camtrap-dp.ts';
import { darwinCoreArchiveOf } from './darwin-core.ts';

export type SurveyFormat = 'camtrap-dp' | 'dwc-a';
export const SURVEY_FORMATS: readonly SurveyFormat[] = ['camtrap-dp', 'dwc-a'];

/** The zip of `pkg` in `format`: camtrap-dp holds datapackage.json and the three tables at its root. */
export function surveyArchiveOf(format: SurveyFormat, pkg: CamtrapPackage): Uint8Array {
  if (format === 'dwc-a') return darwinCoreArchiveOf(pkg);
  const files = Object.fromEntries(Object.entries(camtrapFilesOf(pkg)).map(([name, text]) => [name, strToU8(text)]));
  return zipSync(files);
}
