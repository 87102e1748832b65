import { open, realpath } from 'node:fs/promises';
import { bufferFile } from './file.js';
import { relativeFromNetwork, realpathInside } from '../store/paths.js';
import { TftpAccessDenied, type TftpHandler } from './types.js';

export interface FileSystemHandlerOptions {
  /** Bytes of file content kept in memory, least recently used evicted first. Default 512 MiB. */
  cacheBytes?: number;
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
 * Contents are cached in memory keyed by real path and checked against size, mtime and inode on
 * every request, so firmware and kernels read by every node come from RAM, and an edited file is
 * served fresh. Concurrent first reads of one file share a single read.
 */
export function fileSystemHandler(root: string, opts: FileSystemHandlerOptions = {}): TftpHandler {
  const cache = new ContentCache(opts.cacheBytes ?? 512 * 1024 * 1024);
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
    const data = await cache.get(real);
    return data ? bufferFile(data) : undefined;
  };
}

/** The request path as a relative path below the root, or TftpAccessDenied. Exported for tests. */
export function safeRelative(path: string): string {
  const checked = relativeFromNetwork(path);
  if ('refused' in checked) throw new TftpAccessDenied(checked.refused);
  return checked.rel;
}

interface Entry {
  size: number;
  mtimeMs: number;
  ino: number;
  data: Buffer;
}

/** A byte-budgeted LRU of file contents (Map iteration order = recency). */
class ContentCache {
  private readonly entries = new Map<string, Entry>();
  private readonly reading = new Map<string, Promise<Buffer | undefined>>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(real: string): Promise<Buffer | undefined> {
    const pending = this.reading.get(real);
    if (pending) return pending;
    const p = this.load(real).finally(() => this.reading.delete(real));
    this.reading.set(real, p);
    return p;
  }

  private async load(real: string): Promise<Buffer | undefined> {
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
      const hit = this.entries.get(real);
      if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino) {
        this.entries.delete(real);
        this.entries.set(real, hit);
        return hit.data;
      }
      const data = await fh.readFile();
      this.put(real, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, data });
      return data;
    } finally {
      await fh.close();
    }
  }

  private put(real: string, entry: Entry): void {
    const old = this.entries.get(real);
    if (old) {
      this.bytes -= old.data.length;
      this.entries.delete(real);
    }
    if (entry.data.length > this.maxBytes) return;
    this.entries.set(real, entry);
    this.bytes += entry.data.length;
    for (const [key, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= e.data.length;
    }
  }
}
