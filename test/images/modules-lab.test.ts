import test from 'ava';
import { execa } from 'execa';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianKernel } from '../../src/images/debs.js';
import { NODE_MODULES, canonicalName, elfSection, parseModinfo, readModule, resolveModules, type ResolvedModule } from '../../src/images/modules.js';

// Real Debian 12 kernels (fetched once from Debian's archive into the apt cache by debianKernel).
// The parsers alone are unit-tested in modules.test.ts.

function names(mods: ResolvedModule[]): string[] {
  return mods.map((m) => m.name);
}

/** Every module appears after each of its `depends=` (read back from the files themselves). */
async function assertDependencyOrder(t: import('ava').ExecutionContext, mods: ResolvedModule[]): Promise<void> {
  const position = new Map(mods.map((m, i) => [m.name, i]));
  for (const [i, m] of mods.entries()) {
    const { depends } = parseModinfo(elfSection(await readModule(m.path), '.modinfo'));
    for (const d of depends) {
      const at = position.get(canonicalName(d));
      // A dependency missing from the list must be built in (the resolver said so).
      if (at !== undefined) t.true(at < i, `${d} loads before ${m.name}`);
    }
  }
}

test('amd64: the node set resolves with its dependency closure, dependencies first; af_packet is built in', async (t) => {
  const kernel = await debianKernel('amd64');
  const r = await resolveModules(kernel, NODE_MODULES.amd64);
  const got = names(r.modules);
  for (const n of ['squashfs', 'overlay', 'loop', 'virtio_pci', 'virtio_net', 'e1000', 'e1000e']) t.true(got.includes(n), n);
  // virtio_net needs net_failover, which needs failover; virtio_pci needs its transports.
  for (const [dep, user] of [['failover', 'net_failover'], ['net_failover', 'virtio_net'], ['virtio_pci_modern_dev', 'virtio_pci'], ['virtio', 'virtio_net']] as const) {
    t.true(got.indexOf(dep) >= 0 && got.indexOf(dep) < got.indexOf(user), `${dep} before ${user}`);
  }
  t.deepEqual(r.builtin, ['af_packet']);
  t.deepEqual(r.skipped, []);
  t.is(new Set(got).size, got.length, 'each module once');
  for (const m of r.modules) t.regex(m.installPath, /^kernel\/.+\.ko$/);
  await assertDependencyOrder(t, r.modules);
});

test('arm64: Pi NICs (smsc95xx, lan78xx, genet) come with usbnet/libphy and genet\'s softdep mdio-bcm-unimac', async (t) => {
  const kernel = await debianKernel('arm64');
  const r = await resolveModules(kernel, NODE_MODULES.arm64);
  const got = names(r.modules);
  for (const n of ['squashfs', 'overlay', 'loop', 'virtio_net', 'dwc2', 'smsc95xx', 'lan78xx', 'genet', 'usbnet', 'libphy', 'mdio_bcm_unimac']) t.true(got.includes(n), n);
  t.true(got.indexOf('mdio_bcm_unimac') < got.indexOf('genet'), 'softdep pre: loads first');
  t.true(got.indexOf('usbnet') < got.indexOf('smsc95xx'));
  t.true(r.builtin.includes('af_packet'));
  // The virtio core is built into the arm64 kernel (a module on amd64), so no depends= names it.
  t.false(got.includes('virtio'));
  t.deepEqual((await resolveModules(kernel, ['virtio'])).builtin, ['virtio']);
  await assertDependencyOrder(t, r.modules);
});

test('built-in modules need no file, dash and underscore spellings are one name, and repeats resolve once', async (t) => {
  const kernel = await debianKernel('amd64');
  const r = await resolveModules(kernel, ['af_packet', 'af-packet', 'virtio-net', 'virtio_net']);
  t.deepEqual(r.builtin, ['af_packet']);
  t.is(names(r.modules).filter((n) => n === 'virtio_net').length, 1);
  t.false(names(r.modules).includes('af_packet'));
});

test('an unknown module is an error naming it and the kernel; an optional one is skipped', async (t) => {
  const kernel = await debianKernel('amd64');
  const err = await t.throwsAsync(resolveModules(kernel, ['squashfs', 'no_such_nic']));
  t.regex(err?.message ?? '', /kernel 6\.\d+\.\d+-\d+-amd64 has no module "no_such_nic"/);
  t.is((err as { code?: string }).code, 'ERR_COMMAND_FAILED');
  // bcmgenet's module is called genet: the Pi 4 driver does not exist on amd64 at all.
  await t.throwsAsync(resolveModules(kernel, ['genet']), { message: /no module "genet"/ });
  const r = await resolveModules(kernel, ['squashfs', { name: 'genet', optional: true }]);
  t.deepEqual(r.skipped, ['genet']);
  t.deepEqual(names(r.modules), ['squashfs']);
});

test('compressed modules (.ko.xz, .ko.zst) resolve by name and are decompressed for busybox insmod', async (t) => {
  const real = await debianKernel('amd64');
  const dir = await mkdtemp(join(tmpdir(), 'bf-modules-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // A fake tree: net_failover as .ko.xz, failover as .ko.zst, virtio_net plain.
  const tree = join(dir, 'lib', 'modules', '9.9.9-test');
  await mkdir(join(tree, 'kernel', 'drivers', 'net'), { recursive: true });
  await mkdir(join(tree, 'kernel', 'net', 'core'), { recursive: true });
  const from = (rel: string): string => join(real.modulesDir, 'kernel', rel);
  await copyFile(from('drivers/net/virtio_net.ko'), join(tree, 'kernel/drivers/net/virtio_net.ko'));
  await copyFile(from('drivers/net/net_failover.ko'), join(tree, 'kernel/drivers/net/net_failover.ko'));
  await execa('xz', ['-z', join(tree, 'kernel/drivers/net/net_failover.ko')]);
  await copyFile(from('net/core/failover.ko'), join(tree, 'kernel/net/core/failover.ko'));
  await execa('zstd', ['-q', '--rm', join(tree, 'kernel/net/core/failover.ko')]);
  await writeFile(join(tree, 'modules.builtin'), 'kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n');

  const r = await resolveModules({ version: '9.9.9-test', modulesDir: tree }, ['virtio_net']);
  t.deepEqual(names(r.modules), ['failover', 'net_failover', 'virtio_net']);
  t.deepEqual(r.modules.map((m) => m.installPath), ['kernel/net/core/failover.ko', 'kernel/drivers/net/net_failover.ko', 'kernel/drivers/net/virtio_net.ko']);
  t.regex(r.modules[0]?.path ?? '', /\.ko\.zst$/);
  t.deepEqual(r.builtin, ['virtio', 'virtio_ring']);
  for (const [i, rel] of [[0, 'net/core/failover.ko'], [1, 'drivers/net/net_failover.ko']] as const) {
    const m = r.modules[i];
    t.truthy(m);
    if (m) t.deepEqual(await readModule(m.path), await readFile(from(rel)), `${m.name} decompressed to the original bytes`);
  }
});

test('arm64: USB NICs (r8152, ax88179_178a, cdc_ether, rndis_host) resolve with usbcore, usbnet and mii, dependencies first', async (t) => {
  const kernel = await debianKernel('arm64');
  const r = await resolveModules(kernel, NODE_MODULES.arm64);
  const got = names(r.modules);
  const before = (dep: string, user: string): void => {
    t.true(got.includes(dep) && got.includes(user) && got.indexOf(dep) < got.indexOf(user), `${dep} before ${user}: ${got.join(' ')}`);
  };
  // The USB core is a module on Debian's arm64 kernel; the host controller (dwc2) needs it too.
  before('usb_common', 'usbcore');
  before('usbcore', 'dwc2');
  // No depends= names the device tree's usb-nop-xceiv PHY driver; the list loads it before dwc2.
  before('phy_generic', 'dwc2');
  for (const nic of ['r8152', 'ax88179_178a', 'cdc_ether', 'rndis_host', 'smsc95xx', 'lan78xx']) before('usbcore', nic);
  for (const nic of ['ax88179_178a', 'cdc_ether', 'rndis_host', 'smsc95xx']) before('usbnet', nic);
  before('mii', 'usbnet');
  before('mii', 'r8152');
  before('mii', 'ax88179_178a');
  // rndis_host is a cdc_ether client (it reuses its CDC descriptor parsing).
  before('cdc_ether', 'rndis_host');
  t.false(r.builtin.includes('usbcore'));
  t.deepEqual(r.skipped, [], 'every optional PHY driver exists on arm64');
  await assertDependencyOrder(t, r.modules);
});
