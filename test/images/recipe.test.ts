import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { loadRecipe, parseRecipe, recipeHash } from '../../src/images/recipe.js';

const good = { name: 'tiny-web', base: 'busybox', arches: ['amd64', 'arm64'], overlays: ['tiny-web'], targets: ['pc', 'pi'] };

function problems(input: unknown): string[] {
  try {
    parseRecipe(input);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

test('a valid recipe parses with defaults filled in', (t) => {
  const r = parseRecipe(good);
  t.deepEqual(r.packages, []);
  t.deepEqual(r.arches, ['amd64', 'arm64']);
  t.deepEqual(parseRecipe({ name: 'x', base: 'debian' }).targets, ['pc']);
});

test('errors name the key to fix', (t) => {
  t.true(problems({ ...good, name: undefined }).some((p) => p.startsWith('name:')));
  t.true(problems({ ...good, base: 'alpine' }).some((p) => p.startsWith('base:')));
  t.true(problems({ ...good, arches: ['amd64', 'riscv64'] }).some((p) => p.startsWith('arches.1:')));
  t.true(problems({ ...good, targets: ['pc', 'toaster'] }).some((p) => p.startsWith('targets.1:')));
  t.true(problems({ ...good, overlays: ['../etc'] }).some((p) => p.startsWith('overlays.0:')));
  t.true(problems({ ...good, pakages: [] }).some((p) => p.startsWith('pakages:') && p.includes('unknown key')));
  t.true(problems({ ...good, packages: ['nginx'] }).some((p) => p.startsWith('packages:') && p.includes('debian')));
  t.true(problems({ ...good, arches: ['amd64'] }).some((p) => p.startsWith('targets:') && p.includes('arm64')));
  t.true(problems({ ...good, overlays: ['a', 'a'] }).some((p) => p.startsWith('overlays.1:')));
  t.true(problems({ name: 'x', base: 'debian', packages: ['Not A Package'] }).some((p) => p.startsWith('packages.0:')));
});

test('the hash ignores formatting but not content', (t) => {
  t.is(recipeHash(parseRecipe(good)), recipeHash(parseRecipe({ ...good, packages: [] })));
  t.not(recipeHash(parseRecipe(good)), recipeHash(parseRecipe({ ...good, overlays: [] })));
});

test('loadRecipe: the file name must match name:, YAML errors say so', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-recipe-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'other.yaml'), 'name: tiny-web\nbase: busybox\n');
  const e1 = await t.throwsAsync(loadRecipe(join(dir, 'other.yaml')), { instanceOf: ConfigError });
  t.regex(e1?.message ?? '', /name: "tiny-web" does not match the file name "other"/);
  await writeFile(join(dir, 'bad.yaml'), 'name: [unclosed\n');
  await t.throwsAsync(loadRecipe(join(dir, 'bad.yaml')), { instanceOf: ConfigError, message: /syntax/ });
  await t.throwsAsync(loadRecipe(join(dir, 'missing.yaml')), { message: /cannot read recipe/ });
});

test('the shipped recipes are valid', async (t) => {
  t.is((await loadRecipe('images/tiny-web.yaml')).recipe.base, 'busybox');
  t.deepEqual((await loadRecipe('images/debian-web.yaml')).recipe.packages.includes('nginx'), true);
});
