import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/images/build.js';
import { foreignArchFacts, requireForeignArchSupport } from '../../src/images/rootfs/foreign-arch.js';
import { listSquashfs } from '../../src/images/squashfs.js';
import { layerFilesOf, readFromRoot, rootPaths } from '../helpers/images.js';

// debian-web amd64 from a cold base (mmdebstrap: about 20-60 s with a warm package cache, a few
// minutes cold), so this file stays well under the 8-minute budget. mmdebstrap must be installed.

test('debian-web amd64: mmdebstrap root with nginx serving /srv/www, owners kept, init-done unit and the built-in lease keeping enabled', async (t) => {
  t.timeout(8 * 60_000);
  const store = await mkdtemp(join(tmpdir(), 'bf-image-store-'));
  const basesDir = await mkdtemp(join(tmpdir(), 'bf-image-bases-'));
  t.teardown(() => Promise.all([rm(store, { recursive: true, force: true }), rm(basesDir, { recursive: true, force: true })]).then(() => undefined));
  const { builds } = await buildImage({ recipe: 'images/debian-web.yaml', arch: 'amd64', store, basesDir });
  const b = builds[0];
  if (!b) return t.fail('no build');
  t.false(b.baseCacheHit);
  t.deepEqual(b.manifest.layers?.map((l) => l.role), ['base', 'image']);
  const [base = '', top = ''] = layerFilesOf(store, b.manifest);
  const names = await rootPaths(store, b.manifest);
  for (const path of ['usr/sbin/nginx', 'usr/sbin/init', 'sbin', 'usr/bin/wget', 'srv/www/index.html', 'etc/nginx/sites-enabled/default',
    'etc/systemd/system/multi-user.target.wants/bootfleet-init-done.service', 'usr/local/sbin/bootfleet-init-done', 'etc/motd',
    'usr/lib/systemd/systemd-networkd', 'usr/lib/bootfleet/report-address', 'usr/lib/bootfleet/network-from-lease', 'usr/lib/bootfleet/address-watch']) {
    t.true(names.has(path), `the root lacks ${path}`);
  }
  const imageLayer = new Set(await listSquashfs(top));
  for (const path of ['etc/motd', 'srv/www/index.html', 'usr/lib/bootfleet/report-address', 'usr/lib/systemd/system/bootfleet-network.service']) {
    t.true(imageLayer.has(path), `the image layer has ${path}`);
  }
  t.false(imageLayer.has('usr/sbin/nginx'), 'nginx is the base\'s');
  t.true((b.manifest.layers?.[1]?.size ?? Infinity) < 1024 * 1024, 'the image layer is small');
  // systemd itself judges the built-in layer's links against the units' [Install] sections, in
  // the root as a node sees it: the base, then the image layer over it.
  const units = join(store, 'units');
  await execa('unsquashfs', ['-q', '-d', units, base, 'lib', 'etc/systemd', 'usr/lib/systemd/system']);
  await execa('unsquashfs', ['-q', '-f', '-d', units, top]);
  const enabled = await execa('systemctl', ['--root', units, 'is-enabled', 'systemd-networkd.service', 'systemd-networkd.socket', 'bootfleet-network.service', 'bootfleet-address.service'], { reject: false });
  t.is(enabled.stdout, 'enabled\nenabled\nenabled\nenabled', `systemctl --root is-enabled (install systemd for systemctl): ${enabled.stderr}`);
  t.false([...names].some((n) => n.startsWith('var/cache/apt/archives/') && n.endsWith('.deb')), 'no .deb left in the image');
  const site = (await readFromRoot(store, b.manifest, 'etc/nginx/sites-available/default')).toString();
  t.regex(site, /root \/srv\/www;/);
  // A Debian root keeps its owners (mksquashfs without -all-root): /etc/shadow is group shadow (42).
  t.regex(String((await execa('unsquashfs', ['-lln', base, 'etc/shadow'])).stdout), / 0\/42 /);
  // The image layer's directories that the base has too are the base's, owner and mode
  // (overlayfs shows the upper one's), the root directory included ('' below); srv/www is the
  // overlay's own (the Debian base has /srv only) and gets the image-time 0755, root's.
  const attrs = async (file: string, dir: string): Promise<string> => {
    const lines = String((await execa('unsquashfs', ['-lln', '-d', '', file, ...(dir ? [dir] : [])])).stdout).split('\n');
    // "<mode> <uid>/<gid> <size> <date> <time> <path>"; the root's path is empty.
    const line = lines.find((l) => /^\S+ \S+\s+\d+ \S+ \S+ (.*)$/.exec(l)?.[1] === (dir ? `/${dir}` : ''));
    return (line ?? '').split(/\s+/).slice(0, 2).join(' ');
  };
  for (const dir of ['', 'etc', 'usr/lib/systemd/system', 'srv']) {
    const inBase = await attrs(base, dir);
    t.not(inBase, '', `the base has /${dir}`);
    t.is(await attrs(top, dir), inBase, `/${dir}`);
  }
  t.is(await attrs(base, 'srv/www'), '', 'the Debian base has no /srv/www');
  t.is(await attrs(top, 'srv/www'), 'drwxr-xr-x 0/0', '/srv/www');
});

test('this machine\'s foreign-arch check agrees with arch-test: passes where foreign programs run, else names what to run', async (t) => {
  const foreign = process.arch === 'arm64' ? 'amd64' : 'arm64';
  const facts = await foreignArchFacts(foreign);
  if (facts.archTest === 'ok' && facts.qemuStaticInstalled) {
    await t.notThrowsAsync(requireForeignArchSupport(foreign));
    return;
  }
  // test/images/foreign-arch.test.ts covers each failure's wording on a faked machine.
  await t.throwsAsync(requireForeignArchSupport(foreign), { message: /^cannot build a debian root for [\s\S]*\n {2}- [\s\S]*(Run here|on the host)/ });
});
