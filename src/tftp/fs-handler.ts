import { open, realpath } from 'node:fs/promises';
import { bufferFile, type TftpFile } from './file.js';
import { defaultTftpCache, type TftpCache } from './cache.js';
import { relativeFromNetwork, realpathInside } from '../store/paths.js';
import { TftpAccessDenied, type TftpHandler } from './types.js';

export interface FileSystemHandlerOptions {
  /**
   * Where file contents are kept in memory. Pass one TftpCache to every handler (and to the
   * server) so they share one byte budget; default: the process-wide defaultTftpCache().
   */
  cache?: TftpCache;
}

/**
 * A TftpHandler serving regular files under `root`, read-only, for every client alike.
 *
 * The network never escapes the root: one leading `/` is stripped (most clients send it) and then
 * a path is refused with TftpAccessDenied (error 2) if it contains NUL, a backslash, an empty
 * absolute remainder (`//x`), or a `..` segment; a path whose realpath (symlinks resolved) lies
 * outside the root's realpath is refused too. A missing file or a non-regular file resolves to
 * undefined (error 1, "File not found").
 *
 * Contents are cached in `cache` under the file's identity (real path, size, mtime, inode: the
 * TftpFile's `id`), checked with fstat on every request, so firmware and kernels read by every node
 * come from RAM, and an edited file is served fresh. Concurrent first reads of one file share a
 * single read.
 */
export function fileSystemHandler(root: string, opts: FileSystemHandlerOptions = {}): TftpHandler {
  const cache = opts.cache ?? defaultTftpCache();
  let rootReal: Promise<string> | undefined;
  return async (path) => {
    const rel = safeRelative(path);
    // Resolved once; a failure (root missing) is not cached, so creating the root later works.
    rootReal ??= realpath(root).catch((err: unknown) => {
      rootReal = undefined;
      throw err;
    });
    const real = await realpathInside(await rootReal, rel);
    if (real === undefined) return undefined; // not found, and fast
    if (real === 'outside') throw new TftpAccessDenied(`${path} resolves outside the TFTP root`);
    return readCached(cache, real);
  };
}

/** The request path as a relative path below the root, or TftpAccessDenied. Exported for tests. */
export function safeRelative(path: string): string {
  const checked = relativeFromNetwork(path);
  if ('refused' in checked) throw new TftpAccessDenied(checked.refused);
  return checked.rel;
}

/** The file at `real` from the cache, read on a miss; undefined if it is missing or not a regular file. */
async function readCached(cache: TftpCache, real: string): Promise<TftpFile | undefined> {
  let fh;
  try {
    fh = await open(real, 'r');
  } catch {
    return undefined;
  }
  try {
    // fstat on the open descriptor: size and mtime describe exactly the bytes we read.
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    const id = `${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
    return bufferFile(await cache.load(id, () => fh.readFile()), id);
  } finally {
    await fh.close();
  }
}
