import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { join, posix } from 'node:path';
import Handlebars from 'handlebars';
import { BootfleetError } from '../errors.js';

/**
 * One entry of a rendered overlay. `path` is relative to the target root, "/"-separated, with no
 * leading "/" and no "..". `mode` holds the permission bits only (e.g. 0o755).
 */
export interface OverlayFile {
  path: string;
  mode: number;
  type: 'file' | 'dir' | 'symlink';
  /** type 'file': the (rendered) bytes. */
  data?: Buffer;
  /** type 'symlink': the link target as stored (relative, or absolute within the target root). */
  target?: string;
}

/**
 * Renders the overlay directory `dir` (a tree mirroring the target filesystem) into a list of
 * entries, sorted byte-wise by path so parents come before their children.
 *
 * Contract (the image builder bakes the result into the squashfs; the controller reuses this
 * same function for per-node overlays served at boot, so it is pure: it reads `dir` and writes
 * nothing):
 * - files ending in `.hbs` are rendered with Handlebars in strict mode against `context` and lose
 *   the suffix; a variable missing from `context` throws ERR_TEMPLATE naming the file and the
 *   variable; no HTML escaping (these are config files, not web pages);
 * - other files are copied byte for byte; permission bits of files and directories are kept;
 * - symlinks are kept if they resolve inside the target root (relative targets are resolved
 *   against the link's directory, absolute ones against the root); one pointing outside is
 *   refused with ERR_TEMPLATE, as are sockets, FIFOs and devices;
 * - two sources for one path (`motd` and `motd.hbs`) are an error rather than a silent pick.
 */
export async function renderOverlay(dir: string, context: Record<string, unknown>): Promise<OverlayFile[]> {
  const out = new Map<string, OverlayFile>();
  const add = (f: OverlayFile, source: string): void => {
    if (out.has(f.path)) throw new BootfleetError('ERR_TEMPLATE', `${source}: overlay ${dir} has two entries for ${f.path}`);
    out.set(f.path, f);
  };
  const top = await lstat(dir).catch(() => undefined);
  if (!top?.isDirectory()) throw new BootfleetError('ERR_TEMPLATE', `overlay ${dir} is not a directory`);
  await walk(dir, '', context, add);
  return [...out.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

async function walk(root: string, rel: string, context: Record<string, unknown>, add: (f: OverlayFile, source: string) => void): Promise<void> {
  for (const name of (await readdir(join(root, rel))).sort()) {
    const src = rel === '' ? name : posix.join(rel, name);
    const abs = join(root, src);
    const st = await lstat(abs);
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      add({ path: src, mode, type: 'dir' }, abs);
      await walk(root, src, context, add);
    } else if (st.isSymbolicLink()) {
      const target = await readlink(abs);
      if (escapes(src, target)) throw new BootfleetError('ERR_TEMPLATE', `${abs}: symlink to ${target} points outside the overlay root; refused`);
      add({ path: src, mode: 0o777, type: 'symlink', target }, abs);
    } else if (st.isFile()) {
      const raw = await readFile(abs);
      if (name.endsWith('.hbs') && name !== '.hbs') add({ path: src.slice(0, -4), mode, type: 'file', data: render(abs, raw, context) }, abs);
      else add({ path: src, mode, type: 'file', data: raw }, abs);
    } else {
      throw new BootfleetError('ERR_TEMPLATE', `${abs}: not a file, directory or symlink; overlays hold only those`);
    }
  }
}

function render(file: string, source: Buffer, context: Record<string, unknown>): Buffer {
  try {
    const template = Handlebars.compile(source.toString('utf8'), { strict: true, noEscape: true });
    return Buffer.from(template(context));
  } catch (err) {
    // Handlebars says `"hostname" not defined in [object Object] - 3:4`; keep the variable and place.
    const msg = (err as Error).message;
    const variable = /"([^"]+)" not defined/.exec(msg)?.[1];
    const where = / - (\d+:\d+)$/.exec(msg)?.[1];
    const text = variable ? `missing variable "${variable}"${where ? ` at ${where}` : ''}` : msg;
    throw new BootfleetError('ERR_TEMPLATE', `${file}: ${text}`, { cause: err });
  }
}

/**
 * Whether a link at `linkPath` (relative to the root) with `target` leaves the root. Absolute
 * targets are read as the target system will (inside its root). A relative target that climbs
 * above the root is refused even though the kernel would clamp it at "/": extracted into a
 * directory on another system (the initramfs's new root, a build tree) it would point out.
 */
function escapes(linkPath: string, target: string): boolean {
  if (target === '') return true;
  if (target.startsWith('/')) return false;
  const parts = [...posix.dirname(linkPath).split('/').filter((p) => p !== '.'), ...target.split('/')];
  let depth = 0;
  for (const part of parts) {
    if (part === '..') depth -= 1;
    else if (part !== '' && part !== '.') depth += 1;
    if (depth < 0) return true;
  }
  return false;
}

/**
 * Writes rendered entries into the tree at `root`, replacing files and links that are there
 * (directories already present keep their mode). Paths go through the root's own symlinks as the
 * target system would see them, never out of `root`. Existing files are
 * unlinked before writing, never written through: the builder's work tree hard-links the cached
 * base root, which must not change.
 */
export async function applyOverlay(root: string, files: readonly OverlayFile[]): Promise<void> {
  for (const f of files) {
    // A directory entry follows a link the root has there (Debian's /bin → usr/bin); files replace links.
    const dest = await resolveInRoot(root, f.path, f.type === 'dir');
    const have = await lstat(dest).catch(() => undefined);
    if (f.type === 'dir') {
      // A directory the root already has keeps its mode: an overlay's folders only mirror paths.
      if (have?.isDirectory()) continue;
      if (have) await rm(dest, { force: true });
      await mkdir(dest, { recursive: true });
      await chmod(dest, f.mode);
      continue;
    }
    if (have) await rm(dest, { recursive: true, force: true });
    await mkdir(posix.dirname(dest), { recursive: true });
    if (f.type === 'symlink') await symlink(f.target ?? '', dest);
    else {
      await writeFile(dest, f.data ?? Buffer.alloc(0), { mode: f.mode });
      await chmod(dest, f.mode); // writeFile's mode is filtered by the umask
    }
  }
}

/**
 * The host path for `rel` inside `root`, following symlinks in its parent directories as the
 * target system would (absolute links from `root`): Debian's /bin is a link to usr/bin, and an
 * absolute link must never lead a write onto the build machine's own files.
 */
async function resolveInRoot(root: string, rel: string, followLeaf: boolean): Promise<string> {
  const parts = rel.split('/');
  const leaf = followLeaf ? '' : (parts.pop() ?? '');
  let resolved: string[] = [];
  let pending = parts;
  for (let hops = 0; pending.length > 0; ) {
    const [part, ...rest] = pending;
    pending = rest;
    if (part === undefined || part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const here = join(root, ...resolved, part);
    const st = await lstat(here).catch(() => undefined);
    if (!st?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++hops > 40) throw new BootfleetError('ERR_TEMPLATE', `${rel}: too many symlinks under ${root}`);
    const target = await readlink(here);
    if (target.startsWith('/')) resolved = [];
    pending = [...target.split('/'), ...pending];
  }
  return join(root, ...resolved, leaf);
}
