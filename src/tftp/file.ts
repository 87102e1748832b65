/**
 * What a TftpHandler hands the server: a sized, randomly readable byte source. Most callers use
 * `bufferFile()` (content already in memory, zero-copy); a handler may also read lazily.
 */
export interface TftpFile {
  /** Exact length in bytes: announced as `tsize` (RFC 2349) and used to find the last block. */
  readonly size: number;
  /**
   * Returns exactly `length` bytes starting at `offset` (the server never asks past `size`).
   * Called sequentially with ranges of about 1 MiB, and again for a range it needs to resend.
   * May return synchronously (fast path) and may return a view: the server never modifies it.
   */
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  /**
   * Optional identity of the content: two files with the same id have the same bytes (for files on
   * disk, real path + size + mtime + inode). With it the server caches what it derives from the
   * file, such as its netascii form, in the shared TftpCache; without it nothing is cached.
   */
  readonly id?: string;
}

/** The bytes behind each bufferFile(): what the native fast path sends from (see inMemory). */
const memory = new WeakMap<TftpFile, Uint8Array>();

/**
 * A TftpFile over bytes already in memory. The server sends views of `data`; never mutate it while
 * served. Give `id` (see TftpFile.id) only if equal ids always mean equal bytes.
 */
export function bufferFile(data: Uint8Array, id?: string): TftpFile {
  const file: TftpFile = {
    size: data.length,
    read: (offset, length) => data.subarray(offset, offset + length),
    ...(id === undefined ? {} : { id }),
  };
  memory.set(file, data);
  return file;
}

/** The whole content of a file made by bufferFile(), else undefined (a lazily read file). */
export function inMemory(file: TftpFile): Uint8Array | undefined {
  return memory.get(file);
}

/** Reads a whole TftpFile into one buffer (for netascii conversion). */
export async function readAll(file: TftpFile): Promise<Uint8Array> {
  return file.read(0, file.size);
}

/**
 * RFC 764 NVT-ASCII as used by RFC 1350 netascii: LF becomes CR LF and a bare CR becomes CR NUL.
 * Applied to the whole file up front so `tsize` can report the size actually sent.
 */
export function toNetascii(data: Uint8Array): Buffer {
  let extra = 0;
  for (const b of data) if (b === 0x0a || b === 0x0d) extra++;
  const out = Buffer.allocUnsafe(data.length + extra);
  let j = 0;
  for (const b of data) {
    if (b === 0x0a) {
      out[j++] = 0x0d;
      out[j++] = 0x0a;
    } else if (b === 0x0d) {
      out[j++] = 0x0d;
      out[j++] = 0x00;
    } else {
      out[j++] = b;
    }
  }
  return out;
}

const CHUNK_BYTES = 1 << 20;

/**
 * Serves DATA payloads by absolute block number (1-based, no wrap) from a TftpFile, reading
 * chunks of about 1 MiB so a lazy file is read once, in order, and an in-memory one is not copied.
 * `block()` returns undefined while a chunk is being read; `onReady` fires when it has arrived.
 */
export class BlockSource {
  private chunk: Uint8Array = new Uint8Array(0);
  private chunkStart = 0;
  private loading = false;
  /** Total number of DATA blocks: a file that is a multiple of blksize ends with an empty block. */
  readonly blocks: number;

  constructor(
    private readonly file: TftpFile,
    private readonly blksize: number,
    windowsize: number,
    private readonly onReady: () => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.blocks = Math.floor(file.size / blksize) + 1;
    // A chunk holds whole blocks and at least two windows, so one window never spans three chunks.
    const perChunk = Math.max(Math.ceil(CHUNK_BYTES / blksize), 2 * windowsize);
    this.chunkBytes = perChunk * blksize;
  }

  private readonly chunkBytes: number;

  /** Payload of block `abs` (1 ≤ abs ≤ blocks), or undefined if it must be read first. */
  block(abs: number): Uint8Array | undefined {
    const start = (abs - 1) * this.blksize;
    const end = Math.min(start + this.blksize, this.file.size);
    const rel = start - this.chunkStart;
    if (rel >= 0 && end - this.chunkStart <= this.chunk.length) return this.chunk.subarray(rel, end - this.chunkStart);
    this.load(start);
    // A synchronous read fills the chunk at once.
    const again = start - this.chunkStart;
    if (!this.loading && again >= 0 && end - this.chunkStart <= this.chunk.length) return this.chunk.subarray(again, end - this.chunkStart);
    return undefined;
  }

  private load(start: number): void {
    if (this.loading) return;
    const length = Math.min(this.chunkBytes, this.file.size - start);
    let result: Uint8Array | Promise<Uint8Array>;
    try {
      result = this.file.read(start, length);
    } catch (err) {
      this.onError(err);
      return;
    }
    if (result instanceof Uint8Array) {
      this.accept(start, length, result);
      return;
    }
    this.loading = true;
    result.then(
      (bytes) => {
        this.loading = false;
        if (this.accept(start, length, bytes)) this.onReady();
      },
      (err: unknown) => {
        this.loading = false;
        this.onError(err);
      },
    );
  }

  private accept(start: number, length: number, bytes: Uint8Array): boolean {
    if (bytes.length < length) {
      this.onError(new Error(`read(${start}, ${length}) returned ${bytes.length} bytes`));
      return false;
    }
    this.chunk = bytes;
    this.chunkStart = start;
    return true;
  }
}
