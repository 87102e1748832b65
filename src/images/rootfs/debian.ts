import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { hostDebianSources, type DebArch } from '../apt-config.js';
import { requireForeignArchSupport } from './foreign-arch.js';

/** Bump when the mmdebstrap invocation changes so older cached roots are not reused. */
export const DEBIAN_ROOT_FORMAT = 1;

/**
 * Packages every Debian root gets besides the recipe's: an init to switch_root into (systemd,
 * whose package also holds systemd-networkd, the lease keeper of the built-in layer), udev
 * (networkd leaves an interface alone until udev has initialized it whenever /sys is writable,
 * udev_available() in systemd 252), ip, and wget for the built-in layer's reports.
 */
export const DEBIAN_BASE_PACKAGES = ['systemd-sysv', 'udev', 'iproute2', 'wget'];

const SUITE = 'bookworm';

/**
 * Builds a Debian 12 root for `arch` into the empty directory `dir` with mmdebstrap (variant
 * minbase, plus {@link DEBIAN_BASE_PACKAGES} and `packages`). Downloaded .debs are kept in
 * `<cacheDir>/mmdebstrap/<arch>` between builds (synced in and out by hooks) and removed from
 * the root, as are apt lists and documentation. A foreign architecture needs the kernel to run
 * its binaries (binfmt_misc + qemu-user-static, see foreign-arch.ts); without that this fails
 * before mmdebstrap starts, saying what to run and where.
 */
export async function buildDebianRoot(dir: string, arch: DebArch, packages: readonly string[], opts: { cacheDir: string; log?: Logger; epoch: number }): Promise<void> {
  await requireForeignArchSupport(arch);
  const debs = join(opts.cacheDir, 'mmdebstrap', arch);
  await mkdir(debs, { recursive: true });
  const include = [...new Set([...DEBIAN_BASE_PACKAGES, ...packages])].sort().join(',');
  const args = [
    '--variant=minbase', `--architectures=${arch}`, `--include=${include}`, '--mode=root', '--format=directory', '--quiet',
    '--aptopt=Acquire::Languages "none"',
    '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/locale/*', '--dpkgopt=path-exclude=/usr/share/info/*',
    '--skip=download/empty', '--skip=essential/unlink',
    `--setup-hook=mkdir -p "$1"/var/cache/apt/archives && cp -a ${shq(debs)}/. "$1"/var/cache/apt/archives/`,
    `--customize-hook=cp -a "$1"/var/cache/apt/archives/*.deb ${shq(debs)}/ 2>/dev/null || true`,
    // A RAM-booted node gets its identity at boot: no baked machine-id, hostname or host keys.
    '--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb "$1"/etc/hostname; : > "$1"/etc/machine-id',
    SUITE, dir, ...(await mirrors()),
  ];
  opts.log?.info({ arch, include }, 'mmdebstrap');
  try {
    await execa('mmdebstrap', args, { env: { SOURCE_DATE_EPOCH: String(opts.epoch), LC_ALL: 'C.UTF-8' } });
  } catch (err) {
    const e = err as { code?: string; stderr?: unknown };
    if (e.code === 'ENOENT') throw new BootfleetError('ERR_COMMAND_FAILED', 'mmdebstrap not found: apt-get install mmdebstrap (scripts/setup-debian.sh)', { cause: err });
    throw new BootfleetError('ERR_COMMAND_FAILED', `mmdebstrap ${arch} failed: ${tail(String(e.stderr ?? errorMessage(err)))}`, { cause: err });
  }
}

/** "deb <uri> <suite> main" lines from the host's mirror, forced to bookworm (the image's release, whatever the host runs). */
async function mirrors(): Promise<string[]> {
  const sources = await hostDebianSources(['main']);
  const uris = sources.length > 0 ? [...new Set(sources.map((s) => s.uri))] : ['http://deb.debian.org/debian', 'http://deb.debian.org/debian-security'];
  return uris.flatMap((uri) => (/security/.test(uri) ? [`deb ${uri} ${SUITE}-security main`] : [`deb ${uri} ${SUITE} main`, `deb ${uri} ${SUITE}-updates main`]));
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-15).join('\n');
}
