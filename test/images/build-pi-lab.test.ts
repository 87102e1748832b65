import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/images/build.js';
import { listSquashfs } from '../../src/images/squashfs.js';
import { layerFilesOf, readFromRoot } from '../helpers/images.js';

// tiny-web arm64 with the pi target: the boot set carries Debian's raspi-firmware blobs, the
// arm64 kernel's Pi device trees and kernel8.img/initramfs8 beside vmlinuz/initrd.img.

test('tiny-web arm64 builds a pc + pi boot set with an arm64 busybox root', async (t) => {
  const store = await mkdtemp(join(tmpdir(), 'bf-image-store-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const stages: string[] = [];
  const { builds } = await buildImage({ recipe: 'images/tiny-web.yaml', arch: 'arm64', store, progress: (r) => stages.push(r.stage) });
  const b = builds[0];
  if (!b) return t.fail('no build');
  t.deepEqual(stages, ['fetch', 'rootfs', 'base-layer', 'overlays', 'builtin', 'initramfs', 'squashfs', 'pi', 'store', 'loaders']);
  t.is(b.manifest.arch, 'arm64');
  t.regex(b.manifest.kernelVersion, /-arm64$/);
  const files = Object.keys(b.manifest.files);
  for (const f of ['vmlinuz', 'initrd.img', 'rpi/start4.elf', 'rpi/fixup4.dat', 'rpi/start.elf', 'rpi/fixup.dat', 'rpi/bootcode.bin',
    'rpi/bcm2711-rpi-4-b.dtb', 'rpi/bcm2711-rpi-400.dtb', 'rpi/bcm2711-rpi-cm4-io.dtb', 'rpi/bcm2837-rpi-3-b.dtb', 'rpi/bcm2710-rpi-3-b.dtb',
    'rpi/kernel8.img', 'rpi/initramfs8', 'rpi/config.txt', 'rpi/cmdline.txt']) {
    t.true(files.includes(f), `boot set lacks ${f}`);
  }
  t.is(b.manifest.files['rpi/kernel8.img']?.sha256, b.manifest.files['vmlinuz']?.sha256, 'kernel8.img is the (uncompressed) arm64 Image');
  t.is(b.manifest.files['rpi/initramfs8']?.sha256, b.manifest.files['initrd.img']?.sha256);
  const kernel = await readFile(join(b.dir, 'rpi', 'kernel8.img'));
  t.is(kernel.subarray(56, 60).toString('latin1'), 'ARMd');
  t.regex(await readFile(join(b.dir, 'rpi', 'config.txt'), 'utf8'), /kernel=kernel8\.img[\s\S]*initramfs initramfs8 followkernel/);
  t.deepEqual(b.manifest.layers?.map((l) => l.role), ['base', 'image']);
  const [base = ''] = layerFilesOf(store, b.manifest);
  t.true((await listSquashfs(base)).includes('bin/busybox'));
  // ELF header: e_machine (offset 18, little-endian) is 0xb7, AArch64.
  t.is((await readFromRoot(store, b.manifest, 'bin/busybox')).readUInt16LE(18), 0xb7);
});
