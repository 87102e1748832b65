import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BootfleetError, errorMessage } from '../../errors.js';
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
 * tree is never modified afterwards: work trees hard-link it (see {@link workTree}).
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

/**
 * A writable copy of `base` in a fresh directory under `<basesDir>/.work` (the same filesystem as
 * the cached roots): hard links (`cp -al`), so even a
 * Debian root costs a fraction of a second. Callers replace files (unlink, write), never write
 * through, which {@link applyOverlay} guarantees. Falls back to a real copy across filesystems.
 */
export async function workTree(basesDir: string, base: string): Promise<string> {
  const parent = join(basesDir, '.work');
  await mkdir(parent, { recursive: true });
  const dir = join(parent, `${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await execa('cp', ['-a', '-l', base, dir]);
  } catch {
    await rm(dir, { recursive: true, force: true });
    try {
      await execa('cp', ['-a', base, dir]);
    } catch (err) {
      throw new BootfleetError('ERR_COMMAND_FAILED', `cannot copy the base root ${base}: ${errorMessage(err)}`, { cause: err });
    }
  }
  return dir;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
