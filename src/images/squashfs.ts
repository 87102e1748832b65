import { execa } from 'execa';
import { stat } from 'node:fs/promises';
import { BootfleetError, errorMessage } from '../errors.js';

export interface SquashfsOptions {
  /** Seconds since the epoch stamped on the filesystem and every inode; default SOURCE_DATE_EPOCH or 0. */
  time?: number;
  /** Make every file owned by root (the busybox root); a Debian root keeps its owners (www-data …). */
  allRoot?: boolean;
}

/** Bump when the mksquashfs options below change: cached layers of older options are not reused. */
export const SQUASHFS_FORMAT = 1;

/**
 * What besides the tree decides a squashfs's bytes (format, time, owners): part of the cache key
 * of a cached layer. The squashfs-tools version is not: a layer cached by an older mksquashfs is
 * still a valid layer, only not byte-for-byte what a fresh build gives.
 */
export function squashfsKey(opts: SquashfsOptions): string {
  return `v${SQUASHFS_FORMAT}-t${opts.time ?? sourceDateEpoch()}-${opts.allRoot ? 'root' : 'owners'}`;
}

/**
 * Packs `source` into the squashfs image `dest` reproducibly: the same tree gives the same bytes.
 * squashfs-tools 4.5 sorts directory entries itself and is reproducible by default (`-reproducible`,
 * said explicitly); we fix the times, drop xattrs (a build host's security labels are not the
 * image's) and overwrite rather than append. zstd: supported by Debian's kernels
 * (CONFIG_SQUASHFS_ZSTD=y), smaller than gzip and far faster to build than xz.
 */
export async function makeSquashfs(source: string, dest: string, opts: SquashfsOptions = {}): Promise<{ bytes: number }> {
  const t = String(opts.time ?? sourceDateEpoch());
  const args = [
    source, dest, '-noappend', '-reproducible', '-no-xattrs', '-mkfs-time', t, '-all-time', t,
    '-comp', 'zstd', '-Xcompression-level', '19', '-b', '256K', '-quiet', '-no-progress',
    ...(opts.allRoot ? ['-all-root'] : []),
  ];
  try {
    // mksquashfs refuses SOURCE_DATE_EPOCH together with -all-time; the options say it already.
    await execa('mksquashfs', args, { env: { SOURCE_DATE_EPOCH: undefined } });
  } catch (err) {
    throw toolError('mksquashfs', err);
  }
  return { bytes: (await stat(dest)).size };
}

/** Paths inside a squashfs image (`unsquashfs -lc`: files, links and empty dirs), without the leading "/". */
export async function listSquashfs(image: string): Promise<string[]> {
  try {
    const r = await execa('unsquashfs', ['-lc', '-d', '', image]);
    return String(r.stdout).split('\n').map((l) => l.replace(/^\/+/, '')).filter((l) => l !== '');
  } catch (err) {
    throw toolError('unsquashfs', err);
  }
}

/** SOURCE_DATE_EPOCH if set to a valid number, else 0 (1970): the build time never leaks into bytes. */
export function sourceDateEpoch(): number {
  const n = Number.parseInt(process.env['SOURCE_DATE_EPOCH'] ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function toolError(tool: string, err: unknown): BootfleetError {
  const e = err as { code?: string; stderr?: unknown };
  if (e.code === 'ENOENT') return new BootfleetError('ERR_COMMAND_FAILED', `${tool} not found: install squashfs-tools (scripts/setup-debian.sh)`, { cause: err });
  return new BootfleetError('ERR_COMMAND_FAILED', `${tool} failed: ${String(e.stderr ?? errorMessage(err)).trim()}`, { cause: err });
}
