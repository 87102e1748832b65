import test from 'ava';
import { execa } from 'execa';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyLayers, builtinLayerRoot, imageLayers } from '../../src/images/layers.js';

// The built-in layer (images/builtin/): what every image gets after its recipe's overlays, and
// the pure parts of its scripts. The parts that need a network run in builtin-lab.test.ts.

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-builtin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const ROOT = builtinLayerRoot();
const context = { image: { name: 'mine', arch: 'amd64' }, recipe: { name: 'mine' } };

test('every image gets the common layer and its base\'s layer, after the recipe\'s overlays', (t) => {
  t.deepEqual(imageLayers({ base: 'busybox', overlays: ['a', 'b'] }, '/o'), {
    overlays: ['/o/a', '/o/b'],
    builtin: [join(ROOT, 'common'), join(ROOT, 'busybox')],
  });
  t.deepEqual(imageLayers({ base: 'debian', overlays: [] }, '/o').builtin, [join(ROOT, 'common'), join(ROOT, 'debian')]);
});

test('the built-in layer wins over a recipe overlay that brings the same path, and brings only its base\'s files', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'root');
  const recipeOverlay = join(dir, 'overlays', 'mine');
  await mkdir(join(recipeOverlay, 'etc', 'udhcpc'), { recursive: true });
  await writeFile(join(recipeOverlay, 'etc', 'udhcpc', 'default.script'), '#!/bin/sh\n# a recipe that drops the address on deconfig\n', { mode: 0o700 });
  await mkdir(root);
  const layers = imageLayers({ base: 'busybox', overlays: ['mine'] }, join(dir, 'overlays'));
  await applyLayers(root, layers.overlays, context);
  await applyLayers(root, layers.builtin, context);

  const script = join(root, 'etc', 'udhcpc', 'default.script');
  t.is(await readFile(script, 'utf8'), await readFile(join(ROOT, 'busybox', 'etc', 'udhcpc', 'default.script'), 'utf8'));
  t.is((await stat(script)).mode & 0o777, 0o755, 'modes are normalized like every image-time layer');
  t.is((await stat(join(root, 'usr', 'lib', 'bootfleet', 'report-address'))).mode & 0o777, 0o755);
  t.false(await lstat(join(root, 'etc', 'systemd')).then(() => true, () => false), 'no systemd files in a busybox root');
});

test('a debian root gets systemd-networkd enabled as `systemctl enable` would (but wait-online), plus the bootfleet units', async (t) => {
  const root = await tempDir(t);
  await applyLayers(root, imageLayers({ base: 'debian', overlays: [] }, '/nowhere').builtin, context);
  const links: Record<string, string> = {};
  const etc = join(root, 'etc', 'systemd', 'system');
  for (const entry of await readdir(etc, { recursive: true })) {
    if ((await lstat(join(etc, entry))).isSymbolicLink()) links[entry] = await readlink(join(etc, entry));
  }
  t.deepEqual(links, {
    'dbus-org.freedesktop.network1.service': '/lib/systemd/system/systemd-networkd.service',
    'multi-user.target.wants/bootfleet-address.service': '/lib/systemd/system/bootfleet-address.service',
    'multi-user.target.wants/bootfleet-agent.service': '/lib/systemd/system/bootfleet-agent.service',
    'multi-user.target.wants/systemd-networkd.service': '/lib/systemd/system/systemd-networkd.service',
    'sockets.target.wants/systemd-networkd.socket': '/lib/systemd/system/systemd-networkd.socket',
    'sysinit.target.wants/bootfleet-network.service': '/lib/systemd/system/bootfleet-network.service',
    'sysinit.target.wants/systemd-network-generator.service': '/lib/systemd/system/systemd-network-generator.service',
  });
  for (const unit of ['bootfleet-address.service', 'bootfleet-network.service']) {
    t.regex(await readFile(join(root, 'usr', 'lib', 'systemd', 'system', unit), 'utf8'), /^\[Install\]$/m, unit);
  }
});

/** Runs the image's network-from-lease (under dash, Debian's /bin/sh) with `lease` as /run/bootfleet/lease. */
async function networkFor(t: { teardown(fn: () => Promise<void>): void }, lease: string): Promise<{ text: string | undefined; link: string | undefined; stderr: string }> {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'run'));
  await writeFile(join(dir, 'run', 'lease'), lease);
  const r = await execa('dash', [join(ROOT, 'debian', 'usr', 'lib', 'bootfleet', 'network-from-lease')], {
    env: { BOOTFLEET_RUN: join(dir, 'run'), BOOTFLEET_NETWORK_DIR: join(dir, 'network') },
  });
  const text = await readFile(join(dir, 'network', '10-bootfleet-boot.network'), 'utf8').catch(() => undefined);
  const link = await readFile(join(dir, 'network', '10-bootfleet-boot.link'), 'utf8').catch(() => undefined);
  return { text, link, stderr: String(r.stderr) };
}

/** The lines of a systemd unit-style file that are not comments or blank. */
function settings(text: string | undefined): string[] {
  return (text ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

const LEASE = 'interface=eth0\nmac=52:54:00:bf:00:01\nip=198.18.0.101\nprefix=24\nrouter=198.18.0.1\ndns=\ndomain=\nlease=60\nserverid=198.18.0.1\n';

test('network-from-lease keeps the boot interface\'s name, and makes networkd keep, renew, and only after a NAK replace its address', async (t) => {
  const { text, link } = await networkFor(t, LEASE);
  t.deepEqual(settings(link), [
    '[Match]', 'MACAddress=52:54:00:bf:00:01', 'Type=ether',
    '[Link]', 'NamePolicy=', 'AlternativeNamesPolicy=database onboard slot path', 'MACAddressPolicy=none',
  ], 'udev keeps the name the interface is up under');
  t.deepEqual(settings(text), [
    '[Match]', 'MACAddress=52:54:00:bf:00:01', 'Type=ether',
    '[Network]', 'DHCP=ipv4', 'KeepConfiguration=yes', 'IgnoreCarrierLoss=yes',
    '[DHCPv4]', 'ClientIdentifier=mac', 'SendRelease=no', 'UseHostname=no',
  ]);
});

test('network-from-lease writes nothing for a lease without a well-formed MAC, and says why', async (t) => {
  // No mac=; one that tries to smuggle a line into the file; not the lower-case sysfs form.
  for (const lease of ['ip=198.18.0.101\n', 'mac=52:54:00:bf:00:01 DHCP=no\n', 'mac=52:54:00:BF:00:01\n']) {
    const { text, link, stderr } = await networkFor(t, lease);
    t.is(text, undefined, lease);
    t.is(link, undefined, lease);
    t.regex(stderr, /no usable mac= in .*lease/);
  }
});
