import { copyFile, mkdtemp, open, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { stat } from 'node:fs/promises';
import { cardBytes, mbrSector, PARTITION_START_LBA, SECTOR } from './mbr.js';
import type { CardFile } from './plan.js';
import { run } from './tools.js';

/** FAT volume id and label of every card (fixed: same files, same image bytes). */
export const VOLUME_ID = 'b00f1ee7';
export const VOLUME_LABEL = 'BOOTFLEET';
/** FAT file times: SOURCE_DATE_EPOCH, else 2020-01-01T00:00:00Z (FAT cannot go before 1980). */
export function cardTime(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env['SOURCE_DATE_EPOCH']);
  return Number.isInteger(v) && v >= 315532800 ? v : 1577836800;
}

/** Where the FAT partition starts in the image: what mtools' `-i image@@<offset>` takes. */
export const PARTITION_OFFSET = PARTITION_START_LBA * SECTOR;

/**
 * Writes `files` to a new disk image at `out`: an MBR with one FAT32 partition (type 0x0c) at
 * 1 MiB spanning the rest, made by `mkfs.fat --offset` (volume id {@link VOLUME_ID}, label
 * {@link VOLUME_LABEL}; `--invariant` before `-i`, which it would otherwise override) and filled with `mcopy -m` from copies whose times are
 * {@link cardTime}, with TZ=UTC: the same files give the same bytes. FAT32 because every Pi boot
 * ROM and bootloader reads it (docs/raspberry-pi.md §1: "bootcode.bin (FAT32)"). The image is
 * built beside `out` and renamed into place. Returns its size in bytes.
 */
export async function writeCardImage(out: string, files: readonly CardFile[]): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'bootfleet-card-'));
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  try {
    const staged: { name: string; path: string }[] = [];
    const time = cardTime();
    for (const [i, f] of files.entries()) {
      const path = join(work, `${i}`);
      if ('data' in f) await writeFile(path, f.data);
      else await copyFile(f.path, path);
      await utimes(path, time, time);
      staged.push({ name: f.name, path });
    }
    let payload = 0;
    for (const s of staged) payload += (await stat(s.path)).size;
    const size = cardBytes(payload);
    const fh = await open(tmp, 'w');
    try {
      await fh.truncate(size);
      await fh.write(mbrSector({ startLba: PARTITION_START_LBA, sectors: size / SECTOR - PARTITION_START_LBA }), 0, SECTOR, 0);
    } finally {
      await fh.close();
    }
    const blocks = (size - PARTITION_OFFSET) / 1024;
    await run('mkfs.fat', ['--invariant', '-F', '32', '-S', '512', '-h', String(PARTITION_START_LBA), '-i', VOLUME_ID, '-n', VOLUME_LABEL,
      '--mbr=n', `--offset=${PARTITION_START_LBA}`, tmp, String(blocks)]);
    for (const s of staged) {
      await run('mcopy', ['-i', `${tmp}@@${PARTITION_OFFSET}`, '-m', '-D', 'o', s.path, `::/${s.name}`], MTOOLS_ENV);
    }
    await rename(tmp, out);
    return size;
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(tmp, { force: true });
  }
}

/** mtools without user configuration or drive checks, times in UTC. */
export const MTOOLS_ENV: Record<string, string> = { MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null', TZ: 'UTC' };
