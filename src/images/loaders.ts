import { copyFile, mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError } from '../errors.js';
import type { Logger } from '../log.js';
import { fetchDebs, type DebArch } from './apt-cache.js';
import { hostDebianSources } from './apt-config.js';
import { extractDebCached } from './debs.js';

/**
 * The iPXE binaries the controller hands PXE firmware over TFTP (docs/boot-flow.md), by the name
 * Debian's `ipxe` package gives them. x86 comes from the host's Debian release (Debian 12:
 * `undionly.kpxe` for BIOS, `snponly.efi` for x86-64 UEFI, the SNP build that drives the NIC
 * through the firmware's own driver). Debian 12's package has no arm64 build at all; Debian 13's
 * (`ipxe` 1.21.1+git20250501) ships `ipxe-arm64.efi`, so arm64 UEFI gets that one.
 */
export const LOADER_FILES: Readonly<Record<DebArch, readonly string[]>> = {
  amd64: ['undionly.kpxe', 'snponly.efi'],
  arm64: ['ipxe-arm64.efi'],
};

/** Where the loaders live in an image store; the controller's TFTP serves this folder after bootDir. */
export function loadersDir(store: string): string {
  return join(store, '.loaders');
}

/** The Debian release whose `ipxe` package carries the loaders for `arch`. */
const ARM64_RELEASE = 'trixie';

/**
 * Puts the loaders for `arch` into `<store>/.loaders/` (fetched and unpacked through the package
 * cache, so a warm cache needs no network), replacing a file only by rename. Returns the paths.
 */
export async function storeBootLoaders(store: string, arch: DebArch, opts: { cacheDir: string; log?: Logger }): Promise<string[]> {
  const root = await extractDebCached(await ipxeDeb(arch, opts), opts.cacheDir);
  const dest = loadersDir(store);
  await mkdir(dest, { recursive: true });
  const out: string[] = [];
  for (const name of LOADER_FILES[arch]) {
    const source = join(root, 'usr', 'lib', 'ipxe', name);
    if (!(await stat(source).catch(() => undefined))) {
      throw new BootfleetError('ERR_COMMAND_FAILED', `Debian's ipxe package (${root}) has no usr/lib/ipxe/${name}`);
    }
    const target = join(dest, name);
    const tmp = `${target}.tmp-${process.pid}`;
    await copyFile(source, tmp);
    await rename(tmp, target);
    out.push(target);
  }
  return out;
}

async function ipxeDeb(arch: DebArch, opts: { cacheDir: string; log?: Logger }): Promise<string> {
  const log = opts.log ? { log: opts.log } : {};
  if (arch === 'amd64') {
    const [deb] = await fetchDebs({ arch, packages: ['ipxe'], cacheDir: opts.cacheDir, ...log });
    if (!deb) throw new BootfleetError('ERR_COMMAND_FAILED', 'ipxe did not resolve');
    return deb.path;
  }
  // A private apt tree of its own (a cache subfolder), so Debian 13's lists never leak into the
  // resolution of kernels and packages for Debian 12 images.
  const mirror = (await hostDebianSources(['main'])).find((s) => !/security/.test(s.uri))?.uri ?? 'http://deb.debian.org/debian';
  const [deb] = await fetchDebs({
    arch, packages: ['ipxe'], cacheDir: join(opts.cacheDir, ARM64_RELEASE),
    sources: [{ uri: mirror, suites: [ARM64_RELEASE], components: ['main'] }], ...log,
  });
  if (!deb) throw new BootfleetError('ERR_COMMAND_FAILED', `ipxe (Debian ${ARM64_RELEASE}) did not resolve`);
  return deb.path;
}
