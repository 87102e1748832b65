import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { pack } from 'tar-stream';
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
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const e of entries) {
    const header = { name: e.name, mode: e.mode, mtime: new Date(0), uid: 0, gid: 0, uname: 'root', gname: 'root' };
    if (e.type === 'directory') tar.entry({ ...header, type: 'directory' });
    else tar.entry({ ...header, type: 'file' }, await readFile(e.path));
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}
