/**
 * The survey export's request schemas (GET and POST /jobs/{id}/export). The survey settings'
 * own schemas (src/settings) are reused, so the CLI flags and these parameters accept the same values.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SETTINGS } from '../settings/table.ts';
import { DEPLOYMENT_COLUMNS } from '../survey/columns.ts';

/**
 * A setting's schema with a description of its own. Type.Unsafe keeps the declared type nameable:
 * a spread TypeBox object is not, and the build's .d.ts would fail on it.
 */
function described<T extends TSchema>(schema: T, description: string) {
  return Type.Unsafe<Static<T>>({ ...schema, description });
}

const Format = Type.Union([Type.Literal('camtrap-dp'), Type.Literal('dwc-a')], {
  description: 'camtrap-dp: a zip of the Camtrap DP 1.0.2 package folder; dwc-a: a Darwin Core Archive.',
});

const metadataFields = {
  format: Format,
  contributor: Type.Optional(
    Type.Array(SETTINGS.contributors.schema.items, {
      minItems: 1,
      description: `"Name <email>", repeatable; the first is the contact (CLI --contributor). Required.`,
    }),
  ),
  project_title: Type.Optional(described(SETTINGS.projectTitle.schema, 'Required (CLI --project-title).')),
  sampling_design: Type.Optional(described(SETTINGS.samplingDesign.schema, SETTINGS.samplingDesign.help)),
  capture_method: Type.Optional(described(SETTINGS.captureMethod.schema, SETTINGS.captureMethod.help)),
  utc_offset: Type.Optional(described(SETTINGS.utcOffset.schema, SETTINGS.utcOffset.help)),
  deployment: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'deploymentID of the images not in a folder below IMAGE_ROOT (uploads, URLs); default: the job id.',
    }),
  ),
};

export const ExportQuery = Type.Object(metadataFields, { additionalProperties: false });

const DeploymentRow = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
  {
    description: `A row of the Camtrap DP deployments table: deploymentID and any of ${DEPLOYMENT_COLUMNS.filter((c) => c !== 'deploymentID').join(', ')}. Checked like the CLI's --deployments CSV (invalid_deployments).`,
  },
);

export const ExportBody = Type.Object(
  {
    ...metadataFields,
    deployments: Type.Optional(
      Type.Array(DeploymentRow, {
        maxItems: 10_000,
        description:
          'Where and when each deployment was (latitude, longitude, cameraDepth, ...); without one, EXIF GPS.',
      }),
    ),
    image_deployments: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        description: "Each image's deploymentID, in the job's input order (overrides `deployment` and folders).",
      }),
    ),
  },
  { additionalProperties: false },
);

export type ExportQueryValues = Static<typeof ExportQuery>;
export type ExportBodyValues = Static<typeof ExportBody>;

export const ExportZip = Type.String({
  format: 'binary',
  description: 'application/zip: the package or archive, named in Content-Disposition.',
});
