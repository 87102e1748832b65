import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/images/build.js';
import { foreignArchFacts, requireForeignArchSupport } from '../../src/images/rootfs/foreign-arch.js';
import { listSquashfs } from '../../src/images/squashfs.js';

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
  const sqfs = join(b.dir, 'root.squashfs');
  const names = new Set(await listSquashfs(sqfs));
  for (const path of ['usr/sbin/nginx', 'usr/sbin/init', 'sbin', 'usr/bin/wget', 'srv/www/index.html', 'etc/nginx/sites-enabled/default',
    'etc/systemd/system/multi-user.target.wants/bootfleet-init-done.service', 'usr/local/sbin/bootfleet-init-done', 'etc/motd',
    'usr/lib/systemd/systemd-networkd', 'usr/lib/bootfleet/report-address', 'usr/lib/bootfleet/network-from-lease', 'usr/lib/bootfleet/address-watch']) {
    t.true(names.has(path), `root.squashfs lacks ${path}`);
  }
  // systemd itself judges the built-in layer's links against the units' [Install] sections.
  const units = join(store, 'units');
  await execa('unsquashfs', ['-q', '-d', units, sqfs, 'lib', 'etc/systemd', 'usr/lib/systemd/system']);
  const enabled = await execa('systemctl', ['--root', units, 'is-enabled', 'systemd-networkd.service', 'systemd-networkd.socket', 'bootfleet-network.service', 'bootfleet-address.service'], { reject: false });
  t.is(enabled.stdout, 'enabled\nenabled\nenabled\nenabled', `systemctl --root is-enabled (install systemd for systemctl): ${enabled.stderr}`);
  t.false([...names].some((n) => n.startsWith('var/cache/apt/archives/') && n.endsWith('.deb')), 'no .deb left in the image');
  const site = String((await execa('unsquashfs', ['-cat', sqfs, 'etc/nginx/sites-available/default'])).stdout);
  t.regex(site, /root \/srv\/www;/);
  // A Debian root keeps its owners (mksquashfs without -all-root): /etc/shadow is group shadow (42).
  t.regex(String((await execa('unsquashfs', ['-lln', sqfs, 'etc/shadow'])).stdout), / 0\/42 /);
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
