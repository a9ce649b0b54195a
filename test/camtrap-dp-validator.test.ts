// The validator the survey export tests rely on must itself tell a valid package from a broken one.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { camtrapDpProblems } from './helpers/camtrap-dp-validator.ts';
import { sharedPath } from './helpers/shared.ts';

const EXAMPLE = sharedPath('camtrap-dp', 'example');

function brokenCopy(edit: (dir: string) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-camtrap-'));
  cpSync(EXAMPLE, dir, { recursive: true });
  edit(dir);
  return dir;
}

function rewrite(file: string, change: (text: string) => string): void {
  writeFileSync(file, change(readFileSync(file, 'utf8')));
}

test('the official Camtrap DP example package is valid', () => {
  assert.deepEqual(camtrapDpProblems(EXAMPLE), []);
});

test('broken copies of it are not: profile, types, enums, keys', () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      'no contributors',
      (dir) =>
        rewrite(path.join(dir, 'datapackage.json'), (t) =>
          JSON.stringify({ ...JSON.parse(t), contributors: undefined }),
        ),
      /contributors/,
    ],
    [
      'a latitude out of range',
      (dir) => rewrite(path.join(dir, 'deployments.csv'), (t) => t.replace(',51.496,', ',151.496,')),
      /latitude: 151.496 > 90/,
    ],
    [
      'a time without offset',
      (dir) =>
        rewrite(path.join(dir, 'media.csv'), (t) => t.replace('2020-05-30T04:57:37+02:00', '2020-05-30T04:57:37')),
      /not a datetime/,
    ],
    [
      'an unknown observation type',
      (dir) => rewrite(path.join(dir, 'observations.csv'), (t) => t.replace(',event,animal,', ',event,fish,')),
      /observationType: 'fish' is not one of/,
    ],
    [
      'media of an unknown deployment',
      (dir) => rewrite(path.join(dir, 'media.csv'), (t) => t.replace('07840dcc,00a2c20d,', '07840dcc,nowhere,')),
      /deploymentID: 'nowhere' is not in deployments/,
    ],
    [
      'a duplicate media id',
      (dir) => rewrite(path.join(dir, 'media.csv'), (t) => t.replace('401386c7,', '07840dcc,')),
      /not unique/,
    ],
    [
      'a missing column',
      (dir) =>
        rewrite(path.join(dir, 'media.csv'), (t) =>
          t.replace('mediaID,deploymentID,captureMethod,', 'mediaID,deploymentID,'),
        ),
      /columns/,
    ],
  ];
  for (const [what, edit, expected] of cases) {
    const problems = camtrapDpProblems(brokenCopy(edit));
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${what}: ${problems.slice(0, 3).join('; ') || 'no problem found'}`,
    );
  }
});
