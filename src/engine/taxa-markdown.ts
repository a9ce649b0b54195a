/** The class → taxon table of docs/taxa.md, generated from marine.ts (`npm run docs`). */
import { markdownTable } from '../settings/markdown.ts';
import { labelOf } from './labels.ts';
import { MARINE_CLASS_INDICES, TAXON_ID_SOURCES, marineTaxonOf } from './marine.ts';

/** Pipes would split a Markdown cell. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function nameCell(name: string, rank: string): string {
  return rank === 'genus' || rank === 'species' ? `_${name}_` : name;
}

export function taxaTableMarkdown(): string {
  const sourceNumber = new Map<string, number>(Object.values(TAXON_ID_SOURCES).map((text, i) => [text, i + 1]));
  const rows = MARINE_CLASS_INDICES.map((index) => {
    const taxon = marineTaxonOf(index);
    if (!taxon) throw new Error(`no taxon for marine class ${index}`);
    const sources = taxon.sources.map((text) => `[${sourceNumber.get(text)}]`).join(' ');
    return [
      String(index),
      labelOf(index),
      nameCell(taxon.scientific_name, taxon.taxon_rank),
      taxon.taxon_rank,
      taxon.vernacular_name,
      taxon.taxon_id ? `\`${taxon.taxon_id.split(':').at(-1)}\`` : '—',
      sources,
      taxon.why ?? '',
    ].map(cell);
  });
  const header = [
    '#',
    'ImageNet class',
    'scientificName',
    'taxonRank',
    'vernacular name',
    'AphiaID',
    'source',
    'why this taxon',
  ];
  const lines = [markdownTable(header, rows)];
  const verified = rows.filter((r) => r[5] !== '—').length;
  const notes = Object.values(TAXON_ID_SOURCES).map((text, i) => `${i + 1}. ${text}`);
  return [
    ...lines,
    '',
    `${verified} of ${rows.length} classes have a verified WoRMS AphiaID (taxonID = urn:lsid:marinespecies.org:taxname:AphiaID).`,
    '',
    'Sources:',
    '',
    ...notes,
  ].join('\n');
}
