import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../store/atomic.js';
import { withDirLock } from '../dir-lock.js';
import { sha256File } from '../hash.js';
import { makeSquashfs, squashfsKey, type SquashfsOptions } from '../squashfs.js';
import { treeBytes } from './size.js';

/** A base root packed as a squashfs layer, in the base cache. */
export interface CachedLayer {
  file: string;
  sha256: string;
  size: number;
  /** It was in the cache already (no mksquashfs ran). */
  hit: boolean;
}

/**
 * The cached base root `<basesDir>/<key>/root` packed as a squashfs layer, kept beside it as
 * `layer-<options>.squashfs` with its sha256 and size in `layer-<options>.json` (the options:
 * {@link squashfsKey}). Packed once per base key: every image version, and every recipe on the
 * same base, reuses it, which is what makes an overlay-only rebuild cheap (the base is most of a
 * Debian root's bytes, and zstd -19 over it takes tens of seconds). Same lock as the root, so a
 * `--fresh-base` rebuild elsewhere never sees half of it; the file appears by rename and its
 * record after it.
 */
export async function cachedBaseLayer(basesDir: string, key: string, opts: SquashfsOptions): Promise<CachedLayer> {
  const home = join(basesDir, key);
  const name = `layer-${squashfsKey(opts)}`;
  const file = join(home, `${name}.squashfs`);
  const record = join(home, `${name}.json`);
  return withDirLock(join(basesDir, '.locks', key), async () => {
    const known = await readRecord(record);
    if (known && (await stat(file).catch(() => undefined))?.size === known.size) return { file, ...known, hit: true };
    const tmp = join(home, `.layer-${process.pid}-${randomBytes(4).toString('hex')}.squashfs`);
    try {
      const { bytes } = await makeSquashfs(join(home, 'root'), tmp, opts);
      const sha256 = await sha256File(tmp);
      await rename(tmp, file);
      await writeFileAtomic(record, JSON.stringify({ sha256, size: bytes }) + '\n');
      return { file, sha256, size: bytes, hit: false };
    } finally {
      await rm(tmp, { force: true });
    }
  });
}

/**
 * Bytes of the cached base root `<basesDir>/<key>/root`, counted once and kept in
 * `<basesDir>/<key>/root-bytes` (walking a Debian root costs about half a second).
 */
export async function baseRootBytes(basesDir: string, key: string): Promise<number> {
  const file = join(basesDir, key, 'root-bytes');
  const kept = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
  if (Number.isSafeInteger(kept) && kept >= 0) return kept;
  const bytes = await treeBytes(join(basesDir, key, 'root'));
  await writeFileAtomic(file, `${bytes}\n`);
  return bytes;
}

async function readRecord(file: string): Promise<{ sha256: string; size: number } | undefined> {
  const r = await readFile(file, 'utf8').then((t) => JSON.parse(t) as { sha256?: unknown; size?: unknown }, () => undefined);
  return r && typeof r.sha256 === 'string' && /^[0-9a-f]{64}$/.test(r.sha256) && typeof r.size === 'number' ? { sha256: r.sha256, size: r.size } : undefined;
}
