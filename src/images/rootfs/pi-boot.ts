import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BootfleetError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { fetchDebs } from '../apt-cache.js';
import { extractDebCached, type DebianKernel } from '../debs.js';

/** Firmware blobs the Pi 3 (bootcode.bin, start.elf, fixup.dat) and Pi 4/400/CM4 (start4.elf, fixup4.dat) load. */
const FIRMWARE = ['bootcode.bin', 'start.elf', 'fixup.dat', 'start4.elf', 'fixup4.dat'];
/** Pi 3/3+/Zero 2 W/CM3 (bcm2837, upstream names) and Pi 4/400/CM4 (bcm2711) device trees. */
const DTB = /^bcm(2837|2711)-rpi-.*\.dtb$/;

export const DEFAULT_CONFIG_TXT = `# bootfleet default config.txt. The controller serves each Pi its own, rendered from
# pxe/rpi/config.txt.hbs; this one makes the boot set usable as it is (an SD card, a test).
[all]
arm_64bit=1
enable_uart=1
# Debian's kernel carries mainline device trees (bcm2837-*): let the firmware pick those names.
upstream_kernel=1
kernel=kernel8.img
initramfs initramfs8 followkernel
`;

export const DEFAULT_CMDLINE_TXT = 'console=serial0,115200 console=tty1\n';

/**
 * Writes the Raspberry Pi boot files into `<dir>` (the boot set's rpi/ folder): Debian's
 * raspi-firmware blobs, the kernel's Pi device trees, kernel8.img, initramfs8 and default
 * config.txt/cmdline.txt. Returns the relative paths written.
 *
 * kernel8.img is Debian's arm64 vmlinuz: an uncompressed arm64 Image ("ARM\x64" magic at byte
 * 56), which every Pi firmware boots. Should a kernel ever come gzip'd we unpack it, since only
 * newer firmware (Pi 4 EEPROM era) understands a compressed kernel8.img.
 *
 * Device trees: the bcm2837 ones are also copied under the downstream names the firmware looks
 * for without `upstream_kernel=1` (bcm2710-rpi-3-b.dtb …), so a config.txt lacking that line
 * still boots. Debian ships no DT overlays (raspi-firmware has only blobs; the kernel package
 * only mainline dtbs), so there is no overlays/ folder; the firmware boots without one.
 */
export async function writePiBootFiles(dir: string, kernel: DebianKernel, initrd: string, opts: { cacheDir: string; log?: Logger }): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const [deb] = await fetchDebs({ arch: 'arm64', packages: ['raspi-firmware'], cacheDir: opts.cacheDir, ...(opts.log ? { log: opts.log } : {}) });
  if (!deb) throw new BootfleetError('ERR_COMMAND_FAILED', 'raspi-firmware did not resolve (it is in the non-free-firmware component)');
  const firmware = join(await extractDebCached(deb.path, opts.cacheDir), 'usr', 'lib', 'raspi-firmware');
  for (const name of FIRMWARE) {
    await copyFile(join(firmware, name), join(dir, name));
    written.push(name);
  }
  if (!kernel.dtbDir) throw new BootfleetError('ERR_COMMAND_FAILED', `kernel ${kernel.version} has no device trees; the pi target needs the arm64 kernel`);
  const broadcom = join(kernel.dtbDir, 'broadcom');
  for (const name of (await readdir(broadcom)).filter((n) => DTB.test(n)).sort()) {
    await copyFile(join(broadcom, name), join(dir, name));
    written.push(name);
    if (name.startsWith('bcm2837-')) {
      const alias = name.replace(/^bcm2837-/, 'bcm2710-').replace('-rpi-cm3-io3', '-rpi-cm3');
      await copyFile(join(broadcom, name), join(dir, alias));
      written.push(alias);
    }
  }
  await writeFile(join(dir, 'kernel8.img'), rawImage(await readFile(kernel.vmlinuz), kernel.vmlinuz));
  await copyFile(initrd, join(dir, 'initramfs8'));
  await writeFile(join(dir, 'config.txt'), DEFAULT_CONFIG_TXT);
  await writeFile(join(dir, 'cmdline.txt'), DEFAULT_CMDLINE_TXT);
  written.push('kernel8.img', 'initramfs8', 'config.txt', 'cmdline.txt');
  return written.sort();
}

function rawImage(bytes: Buffer, file: string): Buffer {
  if (bytes.subarray(56, 60).toString('latin1') === 'ARMd') return bytes;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return gunzipSync(bytes);
  throw new BootfleetError('ERR_COMMAND_FAILED', `${file} is neither an arm64 Image nor gzip'd; cannot make kernel8.img`);
}
