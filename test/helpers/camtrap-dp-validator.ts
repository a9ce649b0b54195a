/**
 * Checks a Camtrap DP package offline against ../shared/camtrap-dp: datapackage.json against the
 * Camtrap DP profile (JSON Schema draft-04, with the Frictionless schemas it builds on), and each
 * CSV against its Table Schema (field order, types, required, enum, range, pattern, unique,
 * primary and foreign keys). Hand-written for the table part: the Frictionless JavaScript
 * libraries are unmaintained, and these rules are a page of the Table Schema specification.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import AjvDraft04Module from 'ajv-draft-04';
import { parse } from 'csv-parse/sync';
import { sharedPath } from './shared.ts';

const SPEC = sharedPath('camtrap-dp');
// A CommonJS module whose class is its default export; seen from ESM it may sit one level down.
const AjvDraft04 = ((AjvDraft04Module as unknown as { default?: typeof AjvDraft04Module }).default ??
  AjvDraft04Module) as unknown as typeof AjvDraft04Module.default;

interface Field {
  name: string;
  type: string;
  format?: string;
  constraints?: {
    required?: boolean;
    unique?: boolean;
    enum?: string[];
    minimum?: number;
    maximum?: number;
    pattern?: string;
  };
}

interface TableSchema {
  fields: Field[];
  missingValues?: string[];
  primaryKey?: string | string[];
  foreignKeys?: { fields: string; reference: { resource: string; fields: string } }[];
}

interface Resource {
  name: string;
  path?: string;
  schema?: string;
}

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

function profileProblems(datapackage: unknown): string[] {
  const ajv = new AjvDraft04({ allErrors: true, strict: false, validateFormats: false });
  ajv.addSchema(
    readJson(path.join(SPEC, 'frictionless', 'data-package.json')) as object,
    'https://specs.frictionlessdata.io/schemas/data-package.json',
  );
  // Not copied into ../shared: any GeoJSON object is accepted here.
  ajv.addSchema({ type: 'object', required: ['type'] }, 'http://json.schemastore.org/geojson.json');
  const validate = ajv.compile(readJson(path.join(SPEC, 'camtrap-dp-profile.json')) as object);
  if (validate(datapackage)) return [];
  return (validate.errors ?? []).map(
    (e: { instancePath: string; message?: string }) => `datapackage.json${e.instancePath} ${e.message}`,
  );
}

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** The cell's value in its field's type, or a problem. */
function typed(field: Field, text: string): { value: unknown } | { problem: string } {
  switch (field.type) {
    case 'string':
    case 'any':
      return { value: text };
    case 'number':
      return Number.isFinite(Number(text)) ? { value: Number(text) } : { problem: `'${text}' is not a number` };
    case 'integer':
      return /^-?\d+$/.test(text) ? { value: Number(text) } : { problem: `'${text}' is not an integer` };
    case 'boolean':
      return ['true', 'false'].includes(text) ? { value: text === 'true' } : { problem: `'${text}' is not true/false` };
    case 'datetime':
      return DATETIME.test(text) && !Number.isNaN(Date.parse(text))
        ? { value: text }
        : { problem: `'${text}' is not a datetime with a UTC offset` };
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(text) ? { value: text } : { problem: `'${text}' is not a date` };
    default:
      return { problem: `unknown type ${field.type}` };
  }
}

function constraintProblem(field: Field, value: unknown): string | null {
  const c = field.constraints ?? {};
  if (c.enum && !c.enum.includes(String(value))) return `'${value}' is not one of ${c.enum.join(', ')}`;
  if (typeof value === 'number' && c.minimum !== undefined && value < c.minimum) return `${value} < ${c.minimum}`;
  if (typeof value === 'number' && c.maximum !== undefined && value > c.maximum) return `${value} > ${c.maximum}`;
  if (c.pattern && !new RegExp(`^(?:${c.pattern})$`).test(String(value)))
    return `'${value}' does not match ${c.pattern}`;
  return null;
}

interface Table {
  rows: Record<string, unknown>[];
  schema: TableSchema;
}

function tableProblems(name: string, csvText: string, schema: TableSchema): { problems: string[]; table: Table } {
  const problems: string[] = [];
  const records = parse(csvText, { relax_column_count: true }) as string[][];
  const [header = [], ...body] = records;
  body.forEach((cells, index) => {
    if (cells.length !== header.length)
      problems.push(`${name} row ${index + 2}: ${cells.length} cells, not ${header.length}`);
  });
  const names = schema.fields.map((f) => f.name);
  if (header.join(',') !== names.join(','))
    problems.push(`${name}: columns ${header.join(',')} are not ${names.join(',')}`);
  const missing = new Set(schema.missingValues ?? ['']);
  const seen = new Map<string, Set<string>>();
  const rows = body.map((cells, index) => {
    const row: Record<string, unknown> = {};
    schema.fields.forEach((field, column) => {
      const text = cells[column] ?? '';
      const where = `${name} row ${index + 2} ${field.name}`;
      if (missing.has(text)) {
        if (field.constraints?.required) problems.push(`${where}: required`);
        row[field.name] = null;
        return;
      }
      const parsed = typed(field, text);
      if ('problem' in parsed) {
        problems.push(`${where}: ${parsed.problem}`);
        return;
      }
      const problem = constraintProblem(field, parsed.value);
      if (problem) problems.push(`${where}: ${problem}`);
      if (field.constraints?.unique) {
        const values = seen.get(field.name) ?? new Set();
        if (values.has(text)) problems.push(`${where}: '${text}' is not unique`);
        values.add(text);
        seen.set(field.name, values);
      }
      row[field.name] = parsed.value;
    });
    return row;
  });
  return { problems, table: { rows, schema } };
}

function foreignKeyProblems(name: string, tables: Map<string, Table>): string[] {
  const table = tables.get(name);
  if (!table) return [];
  const problems: string[] = [];
  for (const key of table.schema.foreignKeys ?? []) {
    const target = tables.get(key.reference.resource);
    const known = new Set(target?.rows.map((row) => row[key.reference.fields]));
    table.rows.forEach((row, index) => {
      const value = row[key.fields];
      if (value !== null && !known.has(value))
        problems.push(`${name} row ${index + 2} ${key.fields}: '${value}' is not in ${key.reference.resource}`);
    });
  }
  return problems;
}

/** Every problem found in the package in `dir` (empty: valid). */
export function camtrapDpProblems(dir: string): string[] {
  const datapackage = readJson(path.join(dir, 'datapackage.json')) as { resources?: Resource[] };
  const problems = profileProblems(datapackage);
  const tables = new Map<string, Table>();
  for (const name of ['deployments', 'media', 'observations']) {
    const resource = datapackage.resources?.find((r) => r.name === name);
    if (!resource?.path) {
      problems.push(`datapackage.json has no ${name} resource with a path`);
      continue;
    }
    if (resource.schema !== `https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/${name}-table-schema.json`)
      problems.push(`${name}: schema ${resource.schema} is not Camtrap DP 1.0.2's`);
    const schema = readJson(path.join(SPEC, `${name}-table-schema.json`)) as TableSchema;
    const checked = tableProblems(name, readFileSync(path.join(dir, resource.path), 'utf8'), schema);
    problems.push(...checked.problems);
    tables.set(name, checked.table);
  }
  for (const name of tables.keys()) problems.push(...foreignKeyProblems(name, tables));
  return problems;
}
