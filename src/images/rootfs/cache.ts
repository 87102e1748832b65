import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withDirLock } from '../dir-lock.js';

/** What a base root is built from; its hash names the cached tree. */
export interface BaseKeyInput {
  base: 'busybox' | 'debian';
  arch: string;
  packages: readonly string[];
  /** Exact inputs: "name=version" of every .deb used, plus content hashes where a file is used directly. */
  inputs: readonly string[];
  /** Layout version of the code that builds the tree. */
  format: number;
}

export function baseKey(input: BaseKeyInput): string {
  const canonical = { ...input, packages: [...input.packages].sort(), inputs: [...input.inputs].sort() };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 24);
}

/**
 * Returns the cached base root for `key` under `<basesDir>/<key>/root`, building it with
 * `build(dir)` first on a miss. The tree appears atomically (built in a temp dir, renamed) and
 * one lock per key keeps two processes from running a minutes-long mmdebstrap twice. A cached
 * tree is never modified afterwards: builds stack their image layer on it (src/images/overlay.ts
 * applyOverlay with `lower`) and pack it as the base layer (./base-layer.ts).
 */
export async function cachedBase(basesDir: string, key: string, build: (dir: string) => Promise<void>, fresh = false): Promise<{ dir: string; hit: boolean }> {
  const home = join(basesDir, key);
  const dir = join(home, 'root');
  return withDirLock(join(basesDir, '.locks', key), async () => {
    if (fresh) await rm(home, { recursive: true, force: true });
    if (await exists(dir)) return { dir, hit: true };
    await mkdir(home, { recursive: true });
    const tmp = join(home, `.building-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(tmp);
      await build(tmp);
      await rename(tmp, dir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return { dir, hit: false };
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
