import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { checkTarget, VerifyError, type BlockTarget } from './device.js';
import { run } from './tools.js';
import { UsageError } from '../errors.js';

const CHUNK = 4 * 1024 * 1024;

export interface WriteResult {
  bytes: number;
  sha256: string;
}

/**
 * Writes the card image file `image` to the start of `target`, then proves it: the device is
 * checked again ({@link checkTarget}) right before, opened O_EXCL (the kernel refuses a mounted
 * or held device) and O_SYNC, fsync'd, its buffer cache dropped (`blockdev --flushbufs`), and
 * the first `bytes` read back must hash to the image's sha256.
 */
export async function writeImageToDevice(image: string, target: BlockTarget): Promise<WriteResult> {
  const again = await checkTarget(target.path);
  const src = await open(image, 'r');
  try {
    const bytes = (await src.stat()).size;
    if (bytes > again.bytes) throw new UsageError(`${target.path} holds ${again.bytes} bytes; the card image needs ${bytes}`);
    const want = createHash('sha256');
    const dev = await open(target.path, constants.O_WRONLY | constants.O_SYNC | constants.O_EXCL);
    try {
      const buf = Buffer.alloc(CHUNK);
      for (let pos = 0; pos < bytes;) {
        const { bytesRead } = await src.read(buf, 0, Math.min(CHUNK, bytes - pos), pos);
        if (bytesRead === 0) throw new Error(`${image} shrank while writing`);
        want.update(buf.subarray(0, bytesRead));
        await writeAll(dev, buf.subarray(0, bytesRead), pos);
        pos += bytesRead;
      }
      await dev.sync();
    } finally {
      await dev.close();
    }
    await run('blockdev', ['--flushbufs', target.path]);
    const sha256 = want.digest('hex');
    const got = await hashPrefix(target.path, bytes);
    if (got !== sha256) throw new VerifyError(`verify failed on ${target.path}: wrote sha256 ${sha256}, read back ${got}; the card or reader may be faulty`);
    return { bytes, sha256 };
  } finally {
    await src.close();
  }
}

/** sha256 of the first `bytes` bytes of `path`. */
export async function hashPrefix(path: string, bytes: number): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    for (let pos = 0; pos < bytes;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, bytes - pos), pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

async function writeAll(fh: Awaited<ReturnType<typeof open>>, data: Buffer, position: number): Promise<void> {
  for (let off = 0; off < data.length;) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
    off += bytesWritten;
  }
}
