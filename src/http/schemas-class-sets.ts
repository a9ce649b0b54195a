/** Request and response schemas of the class-set routes (routes-class-sets.ts); shared pieces are in schemas.ts. */
import { type Static, Type } from '@sinclair/typebox';
import { ClassSetView, ClassThreshold, ExamplesResult } from './schemas.ts';

// Names and labels are checked by the store (invalid_class_set_name, invalid_label say why); here only their size.
const SetNameParam = Type.String({ minLength: 1, maxLength: 128, description: 'The class set name.' });

export const ClassSetParams = Type.Object({ name: SetNameParam });
export const ClassSetLabelParams = Type.Object({
  name: SetNameParam,
  label: Type.String({ minLength: 1, maxLength: 128, description: 'The label, URL-encoded.' }),
});

export const CreateClassSetBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 128,
      description: '1 to 64 lower-case letters, digits, "-" and "_", starting with a letter or digit.',
      examples: ['reef-fish'],
    }),
    // null first: the validator coerces types, and would turn null into 0 for a number tried first.
    threshold: Type.Optional(Type.Union([Type.Null(), ClassThreshold])),
  },
  { additionalProperties: false },
);

export const UpdateClassSetBody = Type.Object(
  {
    threshold: Type.Union([Type.Null(), ClassThreshold], {
      description: "The set's own threshold (a cosine similarity); null goes back to the one its photos calibrate.",
    }),
  },
  { additionalProperties: false },
);

export const ShowClassSetQuery = Type.Object(
  {
    evaluate: Type.Optional(
      Type.Boolean({ description: 'Also evaluate the set on its own photos (repeated K-shot splits).' }),
    ),
  },
  { additionalProperties: false },
);

export const AddExamplesQuery = Type.Object(
  {
    async: Type.Optional(
      Type.Boolean({ description: 'Answer 202 with a job at once, whatever the number of photos.' }),
    ),
  },
  { additionalProperties: false },
);

const ExampleItem = Type.Object(
  {
    label: Type.String({ minLength: 1, maxLength: 1024 }),
    image_url: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
    image_base64: Type.Optional(Type.String()),
  },
  { additionalProperties: false, description: 'A label and exactly one of image_url or image_base64.' },
);

export function addExamplesJsonBody(maxImages: number) {
  return Type.Object(
    { examples: Type.Array(ExampleItem, { minItems: 1, maxItems: maxImages }) },
    { additionalProperties: false },
  );
}

export const AddExamplesForm = Type.Object({
  label: Type.String({ description: 'The label of the files after it (repeat it before each group of files).' }),
  file: Type.String({ format: 'binary', description: 'A photo; repeat the field for more.' }),
});

export const Evaluation = Type.Object({
  method: Type.Union([Type.Literal('splits'), Type.Literal('leave-one-out')]),
  splits: Type.Union([Type.Integer(), Type.Null()]),
  shots: Type.Union([Type.Integer(), Type.Null()], { description: 'Photos per label fitted on in each split.' }),
  top1: Type.Number(),
  top3: Type.Number(),
  calibrated_threshold: Type.Number({ description: 'The threshold its photos calibrate (keeps ~97 % of them).' }),
  labels: Type.Array(
    Type.Object({
      label: Type.String(),
      count: Type.Integer(),
      precision: Type.Union([Type.Number(), Type.Null()]),
      recall: Type.Number(),
      needs_more_photos: Type.Boolean(),
    }),
  ),
  confusion: Type.Object({
    labels: Type.Array(Type.String()),
    matrix: Type.Array(Type.Array(Type.Integer()), { description: 'Rows: true label; columns: answered label.' }),
  }),
  warnings: Type.Array(Type.String()),
});

export const ClassSetResponse = Type.Object({ set: ClassSetView });
export const ClassSetListResponse = Type.Object({ sets: Type.Array(ClassSetView) });
export const ClassSetShowResponse = Type.Object({
  set: ClassSetView,
  evaluation: Type.Union([Evaluation, Type.Null()]),
});
export const ExamplesAccepted = Type.Object({
  job_id: Type.String(),
  status_url: Type.String({ description: 'GET it for progress; `result` holds what was added when it is done.' }),
});
export { ExamplesResult };

export type EvaluationValues = Static<typeof Evaluation>;
export type AddExamplesBody = Static<ReturnType<typeof addExamplesJsonBody>>;
