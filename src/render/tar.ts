import { pack } from 'tar-stream';
import { relativeFromNetwork } from '../store/paths.js';

/** One entry of a rendered overlay (the shape src/images/overlay.ts renderOverlay() returns). */
export interface TarFile {
  path: string;
  mode: number;
  type: 'file' | 'dir' | 'symlink';
  data?: Buffer;
  target?: string;
}

/**
 * Packs overlay files into a POSIX tar the node's initramfs extracts over its root. Deterministic
 * (sorted, mtime 0, uid/gid 0). Refuses what an extractor must never be handed: absolute paths,
 * `..` segments, and symlinks whose target leaves the tree (`/`-absolute or climbing above it).
 */
export async function packTar(files: readonly TarFile[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const checked = relativeFromNetwork(f.path);
    if ('refused' in checked || f.path.startsWith('/')) throw new Error(`overlay entry ${f.path}: ${'refused' in checked ? checked.refused : 'absolute path'}`);
    const header = { name: checked.rel, mode: f.mode & 0o7777, mtime: new Date(0), uid: 0, gid: 0, uname: 'root', gname: 'root' };
    if (f.type === 'dir') tar.entry({ ...header, type: 'directory' });
    else if (f.type === 'symlink') tar.entry({ ...header, type: 'symlink', linkname: safeLinkTarget(checked.rel, f.target ?? '') });
    else tar.entry({ ...header, type: 'file' }, f.data ?? Buffer.alloc(0));
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A relative symlink target that stays inside the tree when resolved from the link's folder. */
function safeLinkTarget(linkPath: string, target: string): string {
  if (target.startsWith('/')) throw new Error(`overlay symlink ${linkPath} → ${target}: absolute targets are refused`);
  let depth = linkPath.split('/').length - 1;
  for (const seg of target.split('/')) {
    if (seg === '..') depth--;
    else if (seg !== '' && seg !== '.') depth++;
    if (depth < 0) throw new Error(`overlay symlink ${linkPath} → ${target} points outside the overlay`);
  }
  return target;
}
