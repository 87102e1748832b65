import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { packTar, type TarFile } from '../render/tar.js';
import { BootfleetError } from '../errors.js';
import { MAX_CONTENT_BYTES } from './content.js';

/**
 * A site's folder as the tar `bootfleet site deploy` uploads: files and folders only, sorted,
 * times and owners zeroed (the same folder gives the same tar, so the same content version).
 * A symlink, device or FIFO is refused naming it (the controller would refuse it too), as is a
 * folder over the size limit.
 */
export async function packSiteDir(dir: string, maxBytes = MAX_CONTENT_BYTES): Promise<Buffer> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top?.isDirectory()) throw new BootfleetError('ERR_USAGE', `${dir} is not a folder: give the folder holding the site's files`);
  const entries: Array<{ name: string; type: 'file' | 'directory'; mode: number; path: string; size: number }> = [];
  let bytes = 0;
  const walk = async (abs: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort()) {
      const path = join(abs, name);
      const rel = relative(dir, path).split(sep).join(posix.sep);
      const st = await lstat(path);
      if (st.isDirectory()) {
        entries.push({ name: `${rel}/`, type: 'directory', mode: 0o755, path, size: 0 });
        await walk(path);
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > maxBytes) throw new BootfleetError('ERR_USAGE', `${dir} holds more than ${Math.round(maxBytes / 1048576)} MiB: site content is limited to that`);
        entries.push({ name: rel, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, path, size: st.size });
      } else {
        throw new BootfleetError('ERR_USAGE', `${path} is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}: site content takes files and folders only (copy the file in its place)`);
      }
    }
  };
  await walk(dir);
  if (!entries.some((e) => e.type === 'file')) throw new BootfleetError('ERR_USAGE', `${dir} has no files: a site needs at least its health page`);
  return packTar(await Promise.all(entries.map(async (e): Promise<TarFile> => (e.type === 'directory'
    ? { path: e.name.replace(/\/$/, ''), mode: e.mode, type: 'dir' }
    : { path: e.name, mode: e.mode, type: 'file', data: await readFile(e.path) }))));
}
