import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BootfleetError, UsageError } from '../errors.js';
import { parseMountinfo, parseSwaps } from './mountinfo.js';

/** A whole-disk block device that passed every safety check of {@link checkTarget}. */
export interface BlockTarget {
  /** The path given (e.g. /dev/sdb). */
  path: string;
  /** Kernel name (sdb, loop3, mmcblk0). */
  name: string;
  /** "major:minor". */
  devno: string;
  bytes: number;
  /** Vendor/model from sysfs, or the backing file of a loop device, when known. */
  description: string;
  partitions: string[];
}

/** System paths whose disk is never a target (besides anything mounted at all). */
export const SYSTEM_PATHS = ['/', '/boot', '/boot/efi', '/boot/firmware', '/usr', '/var', '/home', '/etc', '/opt', '/srv'];

const refuse = (path: string, why: string): UsageError => new UsageError(`refusing to write ${path}: ${why}`);

/**
 * Checks that `path` may be overwritten, or throws a UsageError saying why not: it must be a
 * block device and a whole disk (not a partition), writable, with no partition mounted
 * (/proc/self/mountinfo by device number and by source), none used as swap, none held by
 * device-mapper/RAID (sysfs holders/), and not the disk under `/` or another system path.
 */
export async function checkTarget(path: string): Promise<BlockTarget> {
  const st = await stat(path, { bigint: true }).catch(() => undefined);
  if (!st) throw refuse(path, 'no such device');
  if (!st.isBlockDevice()) throw refuse(path, 'it is not a block device (to write a card image file use --out)');
  const devno = devnoOf(st.rdev);
  const sys = await realpath(`/sys/dev/block/${devno}`).catch(() => undefined);
  if (!sys) throw refuse(path, `no /sys/dev/block/${devno} for it`);
  const name = basename(sys);
  if (await exists(join(sys, 'partition'))) {
    throw refuse(path, `it is a partition; give the whole disk, /dev/${basename(dirname(sys))}`);
  }
  if ((await readText(join(sys, 'ro'))) === '1') throw refuse(path, 'the device is read-only (is the card\'s lock switch on?)');
  const partitions: string[] = [];
  for (const e of await readdir(sys)) if (await exists(join(sys, e, 'partition'))) partitions.push(e);
  const names = new Set([name, ...partitions]);
  const devnos = new Set([devno]);
  for (const p of partitions) devnos.add(await readText(join(sys, p, 'dev')));

  for (const m of parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'))) {
    const src = m.source.startsWith('/dev/') ? basename(await realpath(m.source).catch(() => m.source)) : '';
    if (devnos.has(m.devno) || names.has(src)) {
      throw refuse(path, `${src ? `/dev/${src}` : m.devno} is mounted on ${m.mountPoint}; unmount it first (umount ${m.mountPoint})`);
    }
  }
  for (const s of parseSwaps(await readText('/proc/swaps'))) {
    if (names.has(basename(await realpath(s).catch(() => s)))) throw refuse(path, `${s} is in use as swap (swapoff ${s})`);
  }
  for (const n of names) {
    const holders = await readdir(join(n === name ? sys : join(sys, n), 'holders')).catch(() => [] as string[]);
    if (holders.length > 0) throw refuse(path, `/dev/${n} is in use by ${holders.join(', ')} (LVM, dm-crypt or RAID)`);
  }
  for (const p of SYSTEM_PATHS) {
    const s = await stat(p, { bigint: true }).catch(() => undefined);
    if (s && (await disksUnder(devnoOf(s.dev))).has(name)) throw refuse(path, `it holds ${p}, a system path of this machine`);
  }
  const bytes = Number(await readText(join(sys, 'size'))) * 512;
  const vendor = [await readText(join(sys, 'device', 'vendor')), await readText(join(sys, 'device', 'model'))].filter(Boolean).join(' ');
  const backing = await readText(join(sys, 'loop', 'backing_file'));
  return { path, name, devno, bytes, description: vendor || (backing ? `loop device on ${backing}` : name), partitions };
}

/**
 * The whole disks a filesystem with st_dev `devno` lives on: its partition's parent, or through
 * device-mapper/MD slaves the disks underneath. Empty for anonymous devices (overlay, tmpfs).
 */
export async function disksUnder(devno: string, depth = 0): Promise<Set<string>> {
  const out = new Set<string>();
  const sys = await realpath(`/sys/dev/block/${devno}`).catch(() => undefined);
  if (!sys || depth > 8) return out;
  const disk = (await exists(join(sys, 'partition'))) ? dirname(sys) : sys;
  out.add(basename(disk));
  for (const slave of await readdir(join(sys, 'slaves')).catch(() => [] as string[])) {
    const dev = await readText(join('/sys/class/block', slave, 'dev'));
    for (const d of await disksUnder(dev, depth + 1)) out.add(d);
  }
  return out;
}

/** Linux's dev_t encoding (glibc gnu_dev_major/minor). */
export function devnoOf(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

async function readText(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trim();
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Thrown when the card read back differs from the image written. */
export class VerifyError extends BootfleetError {
  override name = 'VerifyError';
  constructor(message: string) {
    super('ERR_COMMAND_FAILED', message);
  }
}
