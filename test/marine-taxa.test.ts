/**
 * The taxa of the marine classes: every class names a taxon at a Camtrap DP rank, WoRMS IDs have
 * the LSID form and a recorded source, and docs/taxa.md is the table the code holds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readBlock } from '../scripts/docs-blocks.ts';
import { labelOf } from '../src/engine/labels.ts';
import {
  MARINE_CLASS_INDICES,
  OCEAN_SCENE_INDICES,
  TAXON_RANKS,
  marineInfoOf,
  marineTaxonOf,
} from '../src/engine/marine.ts';
import { taxaTableMarkdown } from '../src/engine/taxa-markdown.ts';
import { REPO_ROOT, sharedPath } from './helpers/shared.ts';

const LSID = /^urn:lsid:marinespecies\.org:taxname:[1-9]\d*$/;

/** The first `enum` under a property named `name`, anywhere in a JSON Schema. */
function enumOf(schema: unknown, name: string): unknown[] | null {
  if (!schema || typeof schema !== 'object') return null;
  const node = schema as Record<string, unknown>;
  const properties = node.properties as Record<string, { enum?: unknown[] }> | undefined;
  if (properties?.[name]?.enum) return properties[name].enum;
  for (const child of Object.values(node)) {
    const found = enumOf(child, name);
    if (found) return found;
  }
  return null;
}

function taxon(index: number) {
  const row = marineTaxonOf(index);
  assert.ok(row, `class ${index} (${labelOf(index)}) is not marine`);
  return row;
}

describe('marine taxa', () => {
  test('the ranks are exactly the taxonRank values of the Camtrap DP profile in ../shared', () => {
    const profile = JSON.parse(readFileSync(sharedPath('camtrap-dp', 'camtrap-dp-profile.json'), 'utf8'));
    assert.deepEqual([...TAXON_RANKS], enumOf(profile, 'taxonRank'));
  });

  test('every marine class names a taxon, its rank, an English name, and a well-formed name for that rank', () => {
    assert.ok(MARINE_CLASS_INDICES.length >= 40);
    for (const index of MARINE_CLASS_INDICES) {
      const t = taxon(index);
      const where = `${index} ${labelOf(index)}: ${t.scientific_name}`;
      assert.ok(TAXON_RANKS.includes(t.taxon_rank), `${where} has rank ${t.taxon_rank}`);
      assert.ok(t.vernacular_name.trim().length > 0, `${where} has no vernacular name`);
      if (t.taxon_rank === 'species') assert.match(t.scientific_name, /^[A-Z][a-z]+ [a-z]+$/, where);
      else assert.match(t.scientific_name, /^[A-Z][a-z]+$/, where);
      // Zoological family names end in -idae (ICZN art. 29.2).
      if (t.taxon_rank === 'family') assert.match(t.scientific_name, /idae$/, where);
    }
  });

  test('taxon IDs are WoRMS LSIDs, each with the source it was verified in, and name one taxon each', () => {
    const nameOfId = new Map<string, string>();
    for (const index of MARINE_CLASS_INDICES) {
      const t = taxon(index);
      if (t.taxon_id === null) {
        assert.deepEqual(t.sources, [], `${index}: a source without an ID`);
        continue;
      }
      assert.match(t.taxon_id, LSID);
      assert.ok(t.sources.length > 0, `${index} ${t.scientific_name}: ${t.taxon_id} has no source`);
      const earlier = nameOfId.get(t.taxon_id);
      assert.ok(!earlier || earlier === t.scientific_name, `${t.taxon_id} names ${earlier} and ${t.scientific_name}`);
      nameOfId.set(t.taxon_id, t.scientific_name);
    }
    assert.ok(nameOfId.size >= 10, `only ${nameOfId.size} verified IDs`);
  });

  test('spot checks: species, and broad classes at the rank they cover', () => {
    assert.deepEqual(marineInfoOf(2), {
      group: 'shark',
      scientific_name: 'Carcharodon carcharias',
      taxon_rank: 'species',
      vernacular_name: 'great white shark',
      taxon_id: 'urn:lsid:marinespecies.org:taxname:105838',
    });
    assert.equal(labelOf(2), 'great white shark');
    const expected: [number, string, string][] = [
      [4, 'Sphyrnidae', 'family'],
      [115, 'Nudibranchia', 'order'],
      [327, 'Asteroidea', 'class'],
      [393, 'Amphiprion', 'genus'],
      [148, 'Orcinus orca', 'species'],
    ];
    for (const [index, name, rank] of expected) {
      const t = taxon(index);
      assert.deepEqual([t.scientific_name, t.taxon_rank], [name, rank], labelOf(index));
    }
    assert.equal(taxon(148).taxon_id, 'urn:lsid:marinespecies.org:taxname:137102');
  });

  test('other classes have no marine info, and ocean scenes are not animals', () => {
    assert.equal(marineInfoOf(0), null); // tench
    assert.equal(marineInfoOf(124), null); // crayfish: freshwater
    for (const index of OCEAN_SCENE_INDICES) {
      assert.ok(index >= 0 && index < 1000);
      assert.equal(marineInfoOf(index), null, labelOf(index));
    }
    assert.ok(OCEAN_SCENE_INDICES.includes(973), 'coral reef');
  });

  test('docs/taxa.md holds the table the code generates (npm run docs)', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'taxa.md'), 'utf8');
    assert.equal(readBlock(doc, 'taxa'), taxaTableMarkdown());
  });
});
