/**
 * Camtrap DP 1.0.2's three tables, column by column in the order of its Table Schemas
 * (test/survey-camtrap-dp.test.ts compares them with the schemas in ../shared/camtrap-dp).
 */
export const CAMTRAP_DP_VERSION = '1.0.2';
const SPEC_BASE = `https://raw.githubusercontent.com/tdwg/camtrap-dp/${CAMTRAP_DP_VERSION}`;
export const PROFILE_URL = `${SPEC_BASE}/camtrap-dp-profile.json`;
export const tableSchemaUrl = (table: TableName): string => `${SPEC_BASE}/${table}-table-schema.json`;

export const DEPLOYMENT_COLUMNS = [
  'deploymentID',
  'locationID',
  'locationName',
  'latitude',
  'longitude',
  'coordinateUncertainty',
  'deploymentStart',
  'deploymentEnd',
  'setupBy',
  'cameraID',
  'cameraModel',
  'cameraDelay',
  'cameraHeight',
  'cameraDepth',
  'cameraTilt',
  'cameraHeading',
  'detectionDistance',
  'timestampIssues',
  'baitUse',
  'featureType',
  'habitat',
  'deploymentGroups',
  'deploymentTags',
  'deploymentComments',
] as const;

export const MEDIA_COLUMNS = [
  'mediaID',
  'deploymentID',
  'captureMethod',
  'timestamp',
  'filePath',
  'filePublic',
  'fileName',
  'fileMediatype',
  'exifData',
  'favorite',
  'mediaComments',
] as const;

export const OBSERVATION_COLUMNS = [
  'observationID',
  'deploymentID',
  'mediaID',
  'eventID',
  'eventStart',
  'eventEnd',
  'observationLevel',
  'observationType',
  'cameraSetupType',
  'scientificName',
  'count',
  'lifeStage',
  'sex',
  'behavior',
  'individualID',
  'individualPositionRadius',
  'individualPositionAngle',
  'individualSpeed',
  'bboxX',
  'bboxY',
  'bboxWidth',
  'bboxHeight',
  'classificationMethod',
  'classifiedBy',
  'classificationTimestamp',
  'classificationProbability',
  'observationTags',
  'observationComments',
] as const;

export type TableName = 'deployments' | 'media' | 'observations';
export type DeploymentColumn = (typeof DEPLOYMENT_COLUMNS)[number];
export type Row<C extends string> = Partial<Record<C, string | number | boolean | null>>;
