import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { posix } from 'node:path';
import { BootfleetError } from '../errors.js';

/**
 * A writer for the cpio "newc" format (the one the Linux kernel unpacks as an initramfs, see
 * Documentation/driver-api/early-userspace/buffer-format.rst). Output is deterministic: entries
 * are sorted by path, owned by 0:0, stamped with one fixed mtime and numbered in order, so the
 * same entries always give the same bytes (and so the same content hash for a boot set).
 */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; data: Buffer | string }
  /** A file whose bytes are read from `source` while the archive streams (for large files). */
  | { type: 'file'; path: string; mode?: number; source: string; size: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; mode?: number; major: number; minor: number };

export interface CpioOptions {
  /** Seconds since the epoch for every entry; default `SOURCE_DATE_EPOCH` or 0. */
  mtime?: number;
  /** Gzip the archive (the kernel and `cpio` via `zcat` both read it). */
  gzip?: boolean;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';

/**
 * Streams a newc archive of `entries`. Missing parent directories are added (mode 0755) because
 * the kernel's unpacker does not create them. Paths are relative ("bin/sh"; a leading "/" or
 * "./" is dropped); a duplicate path is an error rather than a silent overwrite.
 */
export function cpioStream(entries: readonly CpioEntry[], options: CpioOptions = {}): Readable {
  const mtime = options.mtime ?? defaultMtime();
  const raw = Readable.from(records(normalize(entries), mtime));
  return options.gzip ? raw.pipe(createGzip({ level: 9 })) : raw;
}

/** The whole archive in memory; see {@link cpioStream} for the contract. */
export async function buildCpio(entries: readonly CpioEntry[], options: CpioOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of cpioStream(entries, options)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function defaultMtime(): number {
  const env = process.env['SOURCE_DATE_EPOCH'];
  const n = env === undefined ? 0 : Number.parseInt(env, 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function cleanPath(path: string): string {
  const p = posix.normalize(path.replace(/^\/+/, '')).replace(/^\.\//, '').replace(/\/+$/, '');
  if (p === '' || p === '.' || p.startsWith('../')) {
    throw new BootfleetError('ERR_INTERNAL', `cpio: bad entry path ${JSON.stringify(path)}`);
  }
  return p;
}

/** Cleans paths, rejects duplicates, adds missing parents and sorts byte-wise. */
function normalize(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = cleanPath(e.path);
    if (byPath.has(path)) throw new BootfleetError('ERR_INTERNAL', `cpio: duplicate entry ${path}`);
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir)) {
      if (!byPath.has(dir)) byPath.set(dir, { type: 'dir', path: dir });
    }
  }
  // Byte-wise order puts every directory before its contents ("bin" < "bin/sh").
  return [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

async function* records(entries: CpioEntry[], mtime: number): AsyncGenerator<Buffer> {
  let written = 0;
  let ino = 0;
  for (const e of entries) {
    ino += 1;
    const body = e.type === 'file' && 'data' in e ? Buffer.from(e.data) : e.type === 'symlink' ? Buffer.from(e.target) : undefined;
    const size = e.type === 'file' && 'source' in e ? e.size : (body?.length ?? 0);
    const head = header({ ino, mode: modeOf(e), nlink: e.type === 'dir' ? 2 : 1, mtime, size, ...devOf(e), name: e.path });
    yield head;
    if (body) yield body;
    else if (e.type === 'file' && 'source' in e) yield* fileBytes(e.source, e.size);
    yield pad(size);
    written += head.length + align4(size);
  }
  const trailer = header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0, major: 0, minor: 0, name: TRAILER });
  yield trailer;
  written += trailer.length;
  // GNU cpio pads the archive to its 512-byte block size; do the same so the sizes match.
  yield Buffer.alloc((512 - (written % 512)) % 512);
}

function modeOf(e: CpioEntry): number {
  switch (e.type) {
    case 'dir': return S_IFDIR | (e.mode ?? 0o755);
    case 'file': return S_IFREG | (e.mode ?? 0o644);
    case 'symlink': return S_IFLNK | 0o777;
    case 'chardev': return S_IFCHR | (e.mode ?? 0o600);
    default: return assertNever(e);
  }
}

function devOf(e: CpioEntry): { major: number; minor: number } {
  return e.type === 'chardev' ? { major: e.major, minor: e.minor } : { major: 0, minor: 0 };
}

interface Header { ino: number; mode: number; nlink: number; mtime: number; size: number; major: number; minor: number; name: string }

/** 110-byte ASCII header, then the NUL-terminated name padded so the data starts 4-aligned. */
function header(h: Header): Buffer {
  const name = Buffer.from(h.name);
  const fields = [h.ino, h.mode, 0, 0, h.nlink, h.mtime, h.size, 0, 0, h.major, h.minor, name.length + 1, 0];
  const text = '070701' + fields.map((n) => hex8(n)).join('');
  const len = text.length + name.length + 1;
  return Buffer.concat([Buffer.from(text, 'ascii'), name, Buffer.alloc(1 + ((4 - (len % 4)) % 4))]);
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new BootfleetError('ERR_INTERNAL', `cpio: field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad(size: number): Buffer {
  return Buffer.alloc(align4(size) - size);
}

function align4(n: number): number {
  return n + ((4 - (n % 4)) % 4);
}

/** Streams `source`, failing if it is not exactly `size` bytes (the header already said so). */
async function* fileBytes(source: string, size: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of createReadStream(source)) {
    seen += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  if (seen !== size) throw new BootfleetError('ERR_INTERNAL', `cpio: ${source} is ${seen} bytes, expected ${size}`);
}

function assertNever(x: never): never {
  throw new BootfleetError('ERR_INTERNAL', `cpio: unknown entry ${JSON.stringify(x)}`);
}
