import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { debianBusybox, debianKernel } from '../../src/images/debs.js';
import { APPLETS, MODULE_LIST_PATH, buildNodeInitramfs } from '../../src/images/initramfs/build.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-initramfs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `cpio -itv` of a gzip'd archive, checked with `gzip -t` first (real tools, not our reader). */
async function listing(dir: string, archive: Buffer): Promise<string> {
  const file = join(dir, 'initrd.cpio.gz');
  await writeFile(file, archive);
  await execa('gzip', ['-t', file]);
  return (await execa('cpio', ['-itv', '--quiet'], { input: gunzipSync(archive), env: { TZ: 'UTC' } })).stdout;
}

test('amd64: two builds are byte-identical and cpio lists init, busybox with applets, the udhcpc script and the modules', async (t) => {
  const dir = await tempDir(t);
  const kernel = await debianKernel('amd64');
  const busybox = await debianBusybox('amd64');
  const a = await buildNodeInitramfs({ arch: 'amd64', kernel, busybox, mtime: 1_700_000_000 });
  const b = await buildNodeInitramfs({ arch: 'amd64', kernel, busybox, mtime: 1_700_000_000 });
  t.true(a.equals(b), 'same inputs, same bytes');
  t.log(`amd64 initramfs: ${(a.length / 1024).toFixed(0)} KiB gzip'd`);

  const list = await listing(dir, a);
  const names = list.split('\n').map((l) => l.split(/\s+/).slice(8).join(' '));
  t.regex(list, /^-rwxr-xr-x .* init$/m);
  t.regex(list, /^-rwxr-xr-x .* bin\/busybox$/m);
  t.regex(list, /^-rwxr-xr-x .* etc\/bootfleet\/udhcpc\.script$/m);
  t.regex(list, /^-rw-r--r-- .* etc\/bootfleet\/lib\.sh$/m);
  t.regex(list, /^crw------- .* dev\/console$/m);
  t.regex(list, /^lrwxrwxrwx .* sbin -> bin$/m);
  for (const applet of APPLETS) t.true(names.includes(`bin/${applet} -> busybox`), applet);
  t.regex(list, /Nov 14\s+2023 init$/m, 'mtime is the one given');

  // The load list names exactly the module files shipped, dependencies first.
  const out = join(dir, 'x');
  await execa('mkdir', [out]);
  await execa('cpio', ['-idm', '--quiet'], { cwd: out, input: gunzipSync(a) });
  const load = (await readFile(join(out, MODULE_LIST_PATH), 'utf8')).trim().split('\n');
  const shipped = names.filter((n) => n.endsWith('.ko')).map((n) => n.replace(`lib/modules/${kernel.version}/`, '')).sort();
  t.deepEqual([...load].sort(), shipped);
  t.true(load.indexOf('kernel/net/core/failover.ko') < load.indexOf('kernel/drivers/net/virtio_net.ko'));
  for (const m of ['squashfs', 'overlay', 'loop', 'virtio_net', 'e1000', 'e1000e']) t.true(load.some((l) => l.endsWith(`/${m}.ko`)), m);
  t.is(await readFile(join(out, 'init'), 'utf8'), await readFile(new URL('../../images/initramfs/init', import.meta.url), 'utf8'));
});

test('the mtime defaults to SOURCE_DATE_EPOCH, and a different mtime gives different bytes', async (t) => {
  const kernel = await debianKernel('amd64');
  const busybox = await debianBusybox('amd64');
  const opts = { arch: 'amd64' as const, kernel, busybox, modules: ['squashfs'] };
  const saved = process.env['SOURCE_DATE_EPOCH'];
  t.teardown(() => {
    if (saved === undefined) delete process.env['SOURCE_DATE_EPOCH'];
    else process.env['SOURCE_DATE_EPOCH'] = saved;
  });
  process.env['SOURCE_DATE_EPOCH'] = '1234567890';
  const fromEnv = await buildNodeInitramfs(opts);
  t.true(fromEnv.equals(await buildNodeInitramfs({ ...opts, mtime: 1234567890 })));
  t.false(fromEnv.equals(await buildNodeInitramfs({ ...opts, mtime: 1234567891 })));
});

test('arm64: builds with the arm64 busybox and the Pi NIC modules', async (t) => {
  const dir = await tempDir(t);
  const kernel = await debianKernel('arm64');
  const archive = await buildNodeInitramfs({ arch: 'arm64', kernel, busybox: await debianBusybox('arm64'), mtime: 0 });
  const list = await listing(dir, archive);
  for (const m of ['genet', 'mdio-bcm-unimac', 'smsc95xx', 'lan78xx', 'dwc2', 'virtio_net']) t.regex(list, new RegExp(`lib/modules/${kernel.version}/kernel/.*/${m}\\.ko$`, 'm'), m);
  t.log(`arm64 initramfs: ${(archive.length / 1024).toFixed(0)} KiB gzip'd`);
});

test('a module the kernel lacks fails the build, naming it', async (t) => {
  const kernel = await debianKernel('amd64');
  await t.throwsAsync(buildNodeInitramfs({ arch: 'amd64', kernel, busybox: await debianBusybox('amd64'), modules: ['squashfs', 'bcm_nonexistent'] }), {
    message: /no module "bcm_nonexistent"/,
  });
});
