/** Default byte budget of a TftpCache: all boot files of a few images fit, a flood of RAM does not. */
export const DEFAULT_CACHE_BYTES = 512 * 1024 * 1024;

/**
 * One byte-budgeted LRU of file contents for a whole TFTP server: every fileSystemHandler and the
 * server's netascii conversions store into the same budget, so adding image folders adds handlers,
 * not memory (docs/tftp.md "Limits").
 *
 * Keys are content identities (see TftpFile.id: real path, size, mtime, inode), so a changed file
 * gets a new key and is read fresh; the old version is simply least recently used from then on and
 * goes first when the budget is exceeded. The budget counts cached bytes only: a buffer a running
 * transfer still sends from stays alive until that transfer ends, even after eviction.
 */
export class TftpCache {
  /** Map iteration order is recency: the first entry is the least recently used. */
  private readonly entries = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer | undefined>>();
  private used = 0;
  private counts = { hits: 0, misses: 0, evictions: 0 };

  constructor(readonly maxBytes: number = DEFAULT_CACHE_BYTES) {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new RangeError(`TftpCache budget must be a whole number of bytes ≥ 0, got ${maxBytes}`);
  }

  /** Bytes held now (≤ maxBytes). */
  get bytes(): number {
    return this.used;
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Lookups that found an entry / did not, and entries dropped to stay within the budget. */
  get stats(): { hits: number; misses: number; evictions: number } {
    return { ...this.counts };
  }

  /** True if `key` is cached; does not count as a use. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The cached bytes for `key`, which become the most recently used, or undefined. */
  get(key: string): Buffer | undefined {
    const data = this.entries.get(key);
    if (data === undefined) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    this.entries.delete(key);
    this.entries.set(key, data);
    return data;
  }

  /**
   * Stores `data` as the most recently used entry and evicts the least recently used ones until
   * the budget holds. Data larger than the whole budget is not stored (returns false): caching it
   * would empty the cache for one file.
   */
  set(key: string, data: Buffer): boolean {
    this.delete(key);
    if (data.length > this.maxBytes) return false;
    this.entries.set(key, data);
    this.used += data.length;
    for (const [k, v] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(k);
      this.used -= v.length;
      this.counts.evictions++;
    }
    return true;
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.used -= old.length;
  }

  /**
   * The cached bytes for `key`, else the result of `read()`, stored. Concurrent calls for one key
   * share a single read (many Pis asking for the same start4.elf at once read it once).
   */
  load(key: string, read: () => Promise<Buffer>): Promise<Buffer>;
  load(key: string, read: () => Promise<Buffer | undefined>): Promise<Buffer | undefined>;
  load(key: string, read: () => Promise<Buffer | undefined>): Promise<Buffer | undefined> {
    const hit = this.get(key);
    if (hit) return Promise.resolve(hit);
    const pending = this.loading.get(key);
    if (pending) return pending;
    const p = read()
      .then((data) => {
        if (data) this.set(key, data);
        return data;
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, p);
    return p;
  }
}

let shared: TftpCache | undefined;

/** The process-wide cache used by every handler and server not given one (DEFAULT_CACHE_BYTES). */
export function defaultTftpCache(): TftpCache {
  shared ??= new TftpCache();
  return shared;
}
