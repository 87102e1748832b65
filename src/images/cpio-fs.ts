import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BootfleetError } from '../errors.js';
import type { CpioEntry } from './cpio.js';

/**
 * Turns the tree under `root` into cpio entries placed under `into` ("" for the archive root):
 * directories, regular files (streamed from disk, permission bits kept), symlinks and character
 * devices. Owners and times are not copied: the writer makes them deterministic. Sockets, FIFOs
 * and block devices are refused so a surprise in a build tree is not silently dropped.
 */
export async function entriesFromDir(root: string, into = ''): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const relPath = rel === '' ? name : posix.join(rel, name);
      const abs = join(root, relPath);
      const path = into === '' ? relPath : posix.join(into, relPath);
      const st = await lstat(abs);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        out.push({ type: 'dir', path, mode });
        await walk(relPath);
      } else if (st.isFile()) {
        out.push({ type: 'file', path, mode, source: abs, size: st.size });
      } else if (st.isSymbolicLink()) {
        out.push({ type: 'symlink', path, target: await readlink(abs) });
      } else if (st.isCharacterDevice()) {
        // rdev packs major/minor glibc-style; small numbers are all an initramfs needs.
        out.push({ type: 'chardev', path, mode, major: Math.floor(st.rdev / 256) & 0xfff, minor: st.rdev & 0xff });
      } else {
        throw new BootfleetError('ERR_INTERNAL', `cpio: cannot archive ${abs}: not a file, directory, symlink or character device`);
      }
    }
  }
  await walk('');
  return out;
}
