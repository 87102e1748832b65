import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/images/build.js';
import { requireForeignArchSupport } from '../../src/images/rootfs/debian.js';

// What an image build refuses before it fetches anything; the builds themselves are in
// build-*-lab.test.ts (they download Debian packages).

test('--arch outside the recipe is a usage error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-image-recipe-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'only-amd.yaml'), 'name: only-amd\nbase: busybox\narches: [amd64]\n');
  await t.throwsAsync(buildImage({ recipe: join(dir, 'only-amd.yaml'), arch: 'arm64', store: dir }), { message: /--arch arm64: recipe only-amd builds only amd64/ });
});

test('a foreign-arch debian root needs qemu-user in binfmt_misc: accepted when registered, else refused naming the alternatives', async (t) => {
  const foreign = process.arch === 'arm64' ? 'amd64' : 'arm64';
  const handler = foreign === 'arm64' ? 'qemu-aarch64' : 'qemu-x86_64';
  const enabled = (await readFile(`/proc/sys/fs/binfmt_misc/${handler}`, 'utf8').catch(() => '')).startsWith('enabled');
  if (enabled) {
    await t.notThrowsAsync(requireForeignArchSupport(foreign));
    return;
  }
  await t.throwsAsync(requireForeignArchSupport(foreign), { message: /binfmt_misc[\s\S]*build on an .* machine[\s\S]*qemu-user-static and binfmt-support/ });
});
