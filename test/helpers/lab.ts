import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { debianBusybox, debianKernel, type DebianKernel } from '../../src/images/debs.js';
import type { DebArch } from '../../src/images/apt-config.js';
import { Lab, type LabOptions } from '../../src/lab/lab.js';
import { buildTestInitramfs, type TestInitramfsOptions } from '../../src/lab/test-initramfs.js';

/**
 * Creates a Lab for one test and registers its destruction with `t.teardown`, so nodes,
 * children and namespaces go away whether the test passes, fails or throws. A failed test keeps
 * the log directory (and logs its path) so every node's console can be read afterwards; a
 * passing one removes it.
 */
export async function withLab(t: ExecutionContext, opts: LabOptions = {}): Promise<Lab> {
  const lab = await Lab.create(opts);
  t.teardown(async () => {
    if (!t.passed) t.log(`lab logs: ${lab.logDir}`);
    await lab.destroy();
    if (t.passed) await rm(lab.logDir, { recursive: true, force: true });
  });
  return lab;
}

/**
 * Fails the test (never skips it: a skipped lab test would count as a pass) when namespaces or
 * QEMU are unavailable, saying what to install.
 */
export async function requireLab(arch: 'x86_64' | 'aarch64' = 'x86_64'): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('lab tests need root (network namespaces, taps): run `sudo npm test`');
  const r = await execa('sh', ['-c', `command -v ip && command -v setpriv && command -v qemu-system-${arch}`], { reject: false });
  if (r.exitCode !== 0) throw new Error(`lab tests need iproute2, setpriv and qemu-system-${arch}: run scripts/setup-debian.sh`);
}

/** Debian's kernel for `arch` plus the test initramfs written into the lab's log dir. */
export async function kernelAndInitramfs(lab: Lab, arch: DebArch, opts: TestInitramfsOptions = {}): Promise<{ kernel: DebianKernel; initrd: string }> {
  const kernel = await debianKernel(arch);
  const initrd = join(lab.logDir, `initramfs-${arch}.cpio.gz`);
  await writeFile(initrd, await buildTestInitramfs({ busybox: await debianBusybox(arch), ...opts }));
  return { kernel, initrd };
}
