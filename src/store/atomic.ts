import { open, rename, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BootfleetError } from '../errors.js';

/**
 * Writes `data` to `file` so that a reader (or a crash) sees either the old content or the new,
 * never a torn file: write a temp file in the same directory, fsync it, rename it over the target,
 * fsync the directory.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'w', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Reads a JSON state file; a missing file gives `fallback`, a corrupt one a clear error. */
export async function readJsonFile<T>(file: string, fallback: T): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new BootfleetError('ERR_STATE_CORRUPT', `${file} is not valid JSON; fix or remove it`, { cause: err });
  }
}

/**
 * Serialises writes to one file: callers may call `save()` as often as they like; at most one
 * write runs at a time and the last value always lands.
 */
export class AtomicJsonFile<T> {
  private pending: T | undefined;
  private running: Promise<void> | undefined;

  constructor(readonly file: string) {}

  load(fallback: T): Promise<T> {
    return readJsonFile(this.file, fallback);
  }

  save(value: T): Promise<void> {
    this.pending = value;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending !== undefined) {
      const value = this.pending;
      this.pending = undefined;
      await writeFileAtomic(this.file, JSON.stringify(value, null, 2) + '\n');
    }
  }
}
