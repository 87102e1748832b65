import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError } from '../errors.js';
import { withDirLock } from './dir-lock.js';
import { sha256File } from './hash.js';

/**
 * The layers of an image store: `<store>/.layers/<sha256>.squashfs`, named by the sha256 of their
 * bytes, shared by every boot set whose manifest names them (docs/images.md "Layers"). A layer file
 * is never changed in place: it appears by rename and goes only when no manifest names it.
 */
export function layersDir(store: string): string {
  return join(store, '.layers');
}

/** The file name of a layer with this sha256 (64 lower-case hex digits). */
export function layerFileName(sha256: string): string {
  if (!SHA256.test(sha256)) throw new BootfleetError('ERR_USAGE', `"${sha256}" is not a sha256 (64 lower-case hex digits)`);
  return `${sha256}.squashfs`;
}

export const SHA256 = /^[0-9a-f]{64}$/;
/** A layer file name as it appears in `.layers/` and in the controller's `/layers/<file>` route. */
export const LAYER_FILE = /^([0-9a-f]{64})\.squashfs$/;

/**
 * Runs `fn` holding the store's layer lock: builds hold it from putting their layers in until
 * their manifest is in place, and garbage collection holds it while it looks for unnamed layers,
 * so a layer is never collected between being stored and being named.
 */
export function withLayerLock<T>(store: string, fn: () => Promise<T>): Promise<T> {
  return withDirLock(layersDir(store), fn);
}

/**
 * Puts the layer file `source` (whose bytes have `sha256`) into the store, unless a file of that
 * sha256 is already there and still matches (a damaged copy is replaced). `move`: `source` is a
 * temp file on the store's filesystem and may be renamed; otherwise it is copied (a clone where
 * the filesystem can), never hard-linked, so nothing done to the store reaches the build cache.
 * The copy is checked against `sha256` before it is named. Returns the stored path and whether
 * it was added. Call it under {@link withLayerLock}.
 */
export async function putLayer(store: string, source: string, sha256: string, opts: { move?: boolean } = {}): Promise<{ path: string; added: boolean }> {
  const dir = layersDir(store);
  const path = join(dir, layerFileName(sha256));
  const have = await stat(path).catch(() => undefined);
  if (have?.isFile() && (await sha256File(path)) === sha256) {
    if (opts.move) await rm(source, { force: true });
    return { path, added: false };
  }
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.put-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    if (opts.move) await rename(source, tmp);
    else await copyFile(source, tmp, constants.COPYFILE_FICLONE);
    const got = await sha256File(tmp);
    if (got !== sha256) {
      throw new BootfleetError('ERR_COMMAND_FAILED', `layer ${source} has sha256 ${got}, not the ${sha256} it was stored under; rebuild it (image build --fresh-base for a base layer)`);
    }
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  return { path, added: true };
}
