import test from 'ava';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ArchBuild } from '../../src/images/build.js';
import { listSquashfs } from '../../src/images/squashfs.js';
import { readManifest, sha256File } from '../../src/images/store.js';

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

test('tiny-web amd64: cold build, bit-identical rebuild from the cached base, overlay-only change reuses the base', async (t) => {
  const store = await tempDir(t, 'bf-image-store-');
  const basesDir = await tempDir(t, 'bf-image-bases-');
  const stages: string[] = [];
  const cold = only((await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, basesDir, progress: (r) => stages.push(r.stage) })).builds);
  t.false(cold.baseCacheHit);
  t.deepEqual(stages, ['fetch', 'rootfs', 'overlays', 'builtin', 'initramfs', 'squashfs', 'store', 'loaders']);
  t.deepEqual(Object.keys(cold.manifest.files).sort(), ['initrd.img', 'root.squashfs', 'vmlinuz']);
  t.is(cold.id, `${cold.manifest.version}-amd64`);
  t.is(cold.dir, join(store, 'tiny-web', cold.id));
  const onDisk = JSON.parse(await readFile(join(cold.dir, 'manifest.json'), 'utf8')) as typeof cold.manifest;
  t.deepEqual(onDisk, cold.manifest);
  for (const [path, f] of Object.entries(cold.manifest.files)) t.is(await sha256File(join(cold.dir, path)), f.sha256, path);
  t.regex(cold.manifest.kernelVersion, /-amd64$/);

  const names = new Set(await listSquashfs(join(cold.dir, 'root.squashfs')));
  for (const path of ['bin/busybox', 'bin/sh', 'bin/httpd', 'sbin', 'init', 'etc/inittab', 'etc/init.d/rcS', 'etc/passwd', 'etc/group',
    'etc/bootfleet/start.d/10-httpd', 'etc/motd', 'etc/os-release', 'etc/httpd.conf', 'srv/www/index.html', 'tmp', 'proc', 'sys', 'dev',
    'etc/udhcpc/default.script', 'usr/lib/bootfleet/report-address']) {
    t.true(names.has(path), `root.squashfs lacks ${path}`);
  }
  t.false(names.has('etc/motd.hbs'));

  const warm = only((await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, basesDir })).builds);
  t.true(warm.baseCacheHit);
  t.true(warm.alreadyStored);
  t.is(warm.manifest.version, cold.manifest.version);
  t.is(warm.manifest.files['root.squashfs']?.sha256, cold.manifest.files['root.squashfs']?.sha256);
  t.is(warm.manifest.files['initrd.img']?.sha256, cold.manifest.files['initrd.img']?.sha256);
  t.true(warm.manifest.buildTime >= cold.manifest.buildTime);

  const overlays = await tempDir(t, 'bf-image-overlays-');
  await cp('overlays/tiny-web', join(overlays, 'tiny-web'), { recursive: true });
  await writeFile(join(overlays, 'tiny-web', 'etc', 'motd.hbs'), 'changed motd for {{image.name}}\n');
  const changed = only((await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, basesDir, overlaysDir: overlays })).builds);
  t.true(changed.baseCacheHit, 'an overlay-only change reuses the cached base root');
  t.false(changed.alreadyStored);
  t.not(changed.manifest.version, cold.manifest.version);
  t.not(changed.manifest.files['root.squashfs']?.sha256, cold.manifest.files['root.squashfs']?.sha256);
  t.is(changed.manifest.files['initrd.img']?.sha256, cold.manifest.files['initrd.img']?.sha256);
  t.is((await readManifest(store, 'tiny-web')).id, changed.id, 'the newest build is the latest');
});

test('an overlay with a missing variable fails the build naming file and variable, and stores nothing', async (t) => {
  const store = await tempDir(t, 'bf-image-store-');
  const overlays = await tempDir(t, 'bf-image-overlays-');
  await cp('overlays/tiny-web', join(overlays, 'tiny-web'), { recursive: true });
  await writeFile(join(overlays, 'tiny-web', 'etc', 'motd.hbs'), '{{image.version}}\n');
  await t.throwsAsync(buildImage({ recipe: 'images/tiny-web.yaml', arch: 'amd64', store, overlaysDir: overlays }), {
    message: /motd\.hbs: missing variable "version"/,
  });
  const { readdir } = await import('node:fs/promises');
  t.deepEqual(await readdir(join(store, 'tiny-web')), [], 'no half-built boot set or temp folder is left');
});
