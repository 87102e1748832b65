import test from 'ava';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ArchBuild } from '../../src/images/build.js';
import { listSquashfs } from '../../src/images/squashfs.js';
import type { StageReport } from '../../src/images/progress.js';
import { layerPath, readManifest, sha256File } from '../../src/images/store.js';
import { layerFilesOf, readFromRoot, rootPaths } from '../helpers/images.js';

// tiny-web amd64, cold (own base cache) then warm, then with a changed overlay. The package
// cache is the shared one (kernel and busybox are downloaded once per machine). No tool is
// optional: a missing mksquashfs or unsquashfs fails these tests.

async function tempDir(t: { teardown(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function only(builds: ArchBuild[]): ArchBuild {
  const [b] = builds;
  if (!b || builds.length !== 1) throw new Error(`expected one build, got ${builds.length}`);
  return b;
}

test('tiny-web amd64: cold build in two layers, a bit-identical rebuild, an overlay-only change rebuilds only the image layer', async (t) => {
  const store = await tempDir(t, 'bf-image-store-');
  const basesDir = await tempDir(t, 'bf-image-bases-');
  const initramfsDir = await tempDir(t, 'bf-image-initramfs-');
  const reports: StageReport[] = [];
  const cold = only((await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, basesDir, initramfsDir, progress: (r) => reports.push(r) })).builds);
  t.false(cold.baseCacheHit);
  t.deepEqual(reports.map((r) => r.stage), ['fetch', 'rootfs', 'base-layer', 'overlays', 'builtin', 'initramfs', 'squashfs', 'store', 'loaders']);
  t.like(Object.fromEntries(reports.map((r) => [r.stage, r.note])), { 'base-layer': 'packed', initramfs: 'built', squashfs: 'image layer' });
  t.deepEqual(Object.keys(cold.manifest.files).sort(), ['initrd.img', 'vmlinuz']);
  t.deepEqual(cold.manifest.layers?.map((l) => l.role), ['base', 'image']);
  t.is(cold.id, `${cold.manifest.version}-amd64`);
  t.is(cold.dir, join(store, 'tiny-web', cold.id));
  const onDisk = JSON.parse(await readFile(join(cold.dir, 'manifest.json'), 'utf8')) as typeof cold.manifest;
  t.deepEqual(onDisk, cold.manifest);
  for (const [path, f] of Object.entries(cold.manifest.files)) t.is(await sha256File(join(cold.dir, path)), f.sha256, path);
  for (const l of cold.manifest.layers ?? []) {
    t.is(await sha256File(layerPath(store, l)), l.sha256, `${l.role} layer`);
    t.is((await stat(layerPath(store, l))).size, l.size);
  }
  t.regex(cold.manifest.kernelVersion, /-amd64$/);

  // The node sees the union; the image layer holds only what the overlays and the built-in layer bring.
  const names = await rootPaths(store, cold.manifest);
  for (const path of ['bin/busybox', 'bin/sh', 'bin/httpd', 'sbin', 'init', 'etc/inittab', 'etc/init.d/rcS', 'etc/passwd', 'etc/group',
    'etc/bootfleet/start.d/10-httpd', 'etc/motd', 'etc/os-release', 'etc/httpd.conf', 'srv/www/index.html', 'tmp', 'proc', 'sys', 'dev',
    'etc/udhcpc/default.script', 'usr/lib/bootfleet/report-address']) {
    t.true(names.has(path), `the root lacks ${path}`);
  }
  t.false(names.has('etc/motd.hbs'));
  const [baseFile = '', imageFile = ''] = layerFilesOf(store, cold.manifest);
  const top = new Set(await listSquashfs(imageFile));
  for (const path of ['etc/motd', 'etc/udhcpc/default.script', 'usr/lib/bootfleet/report-address']) t.true(top.has(path), `the image layer has ${path}`);
  for (const path of ['bin/busybox', 'etc/inittab', 'proc']) t.false(top.has(path), `the image layer leaves ${path} to the base`);
  t.true((await listSquashfs(baseFile)).includes('bin/busybox'));
  t.true((cold.manifest.layers?.[1]?.size ?? Infinity) < 64 * 1024, 'the image layer is small');

  // Reproducible: a build from nothing cached (its own base root, base layer and initramfs) gives the same bytes, layer by layer.
  const again = only((await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store: await tempDir(t, 'bf-image-store-'),
    basesDir: await tempDir(t, 'bf-image-bases-'), initramfsDir: await tempDir(t, 'bf-image-initramfs-') })).builds);
  t.false(again.baseCacheHit);
  t.deepEqual(again.manifest.layers, cold.manifest.layers, 'each layer bit-identical');
  t.deepEqual(again.manifest.files, cold.manifest.files, 'kernel and initramfs bit-identical');
  t.is(again.manifest.version, cold.manifest.version);

  reports.length = 0;
  const warm = only((await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, basesDir, initramfsDir, progress: (r) => reports.push(r) })).builds);
  t.true(warm.baseCacheHit);
  t.true(warm.alreadyStored);
  t.like(Object.fromEntries(reports.map((r) => [r.stage, r.note])), { 'base-layer': 'cached', initramfs: 'cache hit' });
  t.is(warm.manifest.version, cold.manifest.version);
  t.true(warm.manifest.buildTime >= cold.manifest.buildTime);

  const overlays = await tempDir(t, 'bf-image-overlays-');
  await cp('overlays/tiny-web', join(overlays, 'tiny-web'), { recursive: true });
  await writeFile(join(overlays, 'tiny-web', 'etc', 'motd.hbs'), 'changed motd for {{image.name}}\n');
  const changed = only((await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, basesDir, initramfsDir, overlaysDir: overlays })).builds);
  t.true(changed.baseCacheHit, 'an overlay-only change reuses the cached base root');
  t.false(changed.alreadyStored);
  t.not(changed.manifest.version, cold.manifest.version);
  t.deepEqual(changed.manifest.layers?.[0], cold.manifest.layers?.[0], 'the same base layer');
  t.not(changed.manifest.layers?.[1]?.sha256, cold.manifest.layers?.[1]?.sha256, 'a new image layer');
  t.is(changed.manifest.files['initrd.img']?.sha256, cold.manifest.files['initrd.img']?.sha256);
  t.is((await readFromRoot(store, changed.manifest, 'etc/motd')).toString(), 'changed motd for tiny-web\n');
  t.is((await readManifest(store, 'tiny-web')).id, changed.id, 'the newest build is the latest');
  t.is((await readdir(join(store, '.layers'))).filter((f) => f.endsWith('.squashfs')).length, 3, 'one base layer shared by both versions, two image layers');

  // Another recipe on the same base shares the base layer too.
  const recipes = await tempDir(t, 'bf-image-recipes-');
  await writeFile(join(recipes, 'tiny-other.yaml'), (await readFile('images/tiny-web.yaml', 'utf8')).replace('name: tiny-web', 'name: tiny-other'));
  const other = only((await buildImage({ recipe: join(recipes, 'tiny-other.yaml'), arch: 'amd64', store, basesDir, initramfsDir, overlaysDir: overlays })).builds);
  t.deepEqual(other.manifest.layers?.[0], cold.manifest.layers?.[0]);
  t.is(other.manifest.files['initrd.img']?.sha256, cold.manifest.files['initrd.img']?.sha256, 'and the initramfs, cached by its inputs');
});

test('an overlay with a missing variable fails the build naming file and variable, and stores nothing', async (t) => {
  const store = await tempDir(t, 'bf-image-store-');
  const overlays = await tempDir(t, 'bf-image-overlays-');
  await cp('overlays/tiny-web', join(overlays, 'tiny-web'), { recursive: true });
  await writeFile(join(overlays, 'tiny-web', 'etc', 'motd.hbs'), '{{image.version}}\n');
  await t.throwsAsync(buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, overlaysDir: overlays }), {
    message: /motd\.hbs: missing variable "version"/,
  });
  t.deepEqual(await readdir(join(store, 'tiny-web')), [], 'no half-built boot set or temp folder is left');
  t.deepEqual(await readdir(join(store, '.layers')).catch(() => []), [], 'and no layer');
});
