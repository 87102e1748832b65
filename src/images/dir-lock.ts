import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { BootfleetError } from '../errors.js';

/**
 * Runs `fn` while holding an exclusive lock on `dir` shared by every process on this machine
 * (ava runs test files in parallel workers that share one package cache). The lock is the
 * directory `<dir>/.lock` (mkdir is atomic) holding the owner's PID; a lock whose owner is gone
 * is taken over, so a killed process does not wedge the cache. Waits at most `timeoutMs`.
 */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 10 * 60_000): Promise<T> {
  const lock = join(dir, '.lock');
  await mkdir(dir, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await ownerGone(lock)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new BootfleetError('ERR_COMMAND_FAILED', `timed out waiting for the lock ${lock}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function ownerGone(lock: string): Promise<boolean> {
  const pid = Number.parseInt(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''), 10);
  // No pid yet: the owner may be between mkdir and writeFile, or died there; allow it 30 s.
  if (!Number.isInteger(pid) || pid <= 0) {
    const st = await stat(lock).catch(() => undefined);
    return st !== undefined && Date.now() - st.mtimeMs > 30_000;
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
