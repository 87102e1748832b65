import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/images/build.js';

// What an image build refuses before it fetches anything; the builds themselves are in
// build-*-lab.test.ts (they download Debian packages).

test('--arch outside the recipe is a usage error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-image-recipe-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'only-amd.yaml'), 'name: only-amd\nbase: busybox\narches: [amd64]\n');
  await t.throwsAsync(buildImage({ recipe: join(dir, 'only-amd.yaml'), arch: 'arm64', store: dir }), { message: /--arch arm64: recipe only-amd builds only amd64/ });
});
