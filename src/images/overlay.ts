import { lchown, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import type { Stats } from 'node:fs';
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

export interface ApplyOptions {
  /**
   * A read-only tree `root` stacks on, as an overlayfs upper layer on its lower one: paths are
   * looked up in `root` first, then in `lower` (the base root), but only `root` is written. It
   * then holds just what the entries add or replace, plus the directories above them with the
   * mode and owner `lower` has for them (overlayfs takes a directory's attributes from the
   * topmost layer that has it). docs/images.md "Layers".
   */
  lower?: string;
  /** Leave the owners of directories copied up from `lower` alone (the layer is packed all-root). */
  ignoreOwners?: boolean;
}

/**
 * Writes rendered entries into the tree at `root`, replacing files and links that are there
 * (directories already present keep their mode). Paths go through the root's own symlinks as the
 * target system would see them, never out of `root`. Existing files are unlinked before writing,
 * never written through, so a tree that hard-links a cached one leaves the cache as it was. With
 * `lower`, `root` is a layer over it ({@link ApplyOptions}); a layer cannot turn a directory of
 * `lower` into a file and back into a directory (overlayfs would need an opaque-directory
 * attribute that our squashfs layers do not carry), so that is an error.
 */
export async function applyOverlay(root: string, files: readonly OverlayFile[], opts: ApplyOptions = {}): Promise<void> {
  const tree = new Stack(root, opts.lower, opts.ignoreOwners ?? false);
  for (const f of files) {
    // A directory entry follows a link the root has there (Debian's /bin → usr/bin); files replace links.
    const parts = await tree.resolve(f.path, f.type === 'dir');
    const dest = join(root, ...parts);
    const have = await tree.lstat(parts);
    if (f.type === 'dir') {
      // A directory the root already has keeps its mode: an overlay's folders only mirror paths.
      if (have?.st.isDirectory()) continue;
      if (have?.layer === 'upper') {
        if (await tree.lowerIsDir(parts)) {
          throw new BootfleetError('ERR_TEMPLATE', `${f.path}: an overlay made this directory of the base a file, and a later one makes it a directory again; a layer cannot express that, keep it a directory`);
        }
        await rm(dest, { force: true });
      }
      await tree.makeParents(parts, f.path);
      await mkdir(dest);
      await chmod(dest, f.mode);
      continue;
    }
    if (have?.layer === 'upper') await rm(dest, { recursive: true, force: true });
    await tree.makeParents(parts, f.path);
    if (f.type === 'symlink') await symlink(f.target ?? '', dest);
    else {
      await writeFile(dest, f.data ?? Buffer.alloc(0), { mode: f.mode });
      await chmod(dest, f.mode); // writeFile's mode is filtered by the umask
    }
  }
}

/** What is at a path of the stacked tree, and from which layer. */
interface Found {
  st: Stats;
  layer: 'upper' | 'lower';
}

/** `upper` over an optional read-only `lower`, looked up as overlayfs does. */
class Stack {
  constructor(private readonly upper: string, private readonly lower: string | undefined, private readonly ignoreOwners: boolean) {}

  /**
   * The entry at `parts` (a path without symlinks above its last part): the upper layer's if it
   * has one; else the lower's, unless an upper entry that is not a directory hides it (or the
   * lower has a non-directory on the way).
   */
  async lstat(parts: readonly string[]): Promise<Found | undefined> {
    let lowerSeen = this.lower !== undefined;
    if (parts.length === 0) return { st: await lstat(this.upper), layer: 'upper' };
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i);
      const u = await lstat(join(this.upper, ...sub)).catch(() => undefined);
      const l = lowerSeen && this.lower !== undefined ? await lstat(join(this.lower, ...sub)).catch(() => undefined) : undefined;
      if (i === parts.length) return u ? { st: u, layer: 'upper' } : l ? { st: l, layer: 'lower' } : undefined;
      if (u ? !u.isDirectory() : !l?.isDirectory()) return undefined;
      lowerSeen = l?.isDirectory() === true;
    }
    return undefined;
  }

  async lowerIsDir(parts: readonly string[]): Promise<boolean> {
    if (this.lower === undefined) return false;
    return (await lstat(join(this.lower, ...parts)).catch(() => undefined))?.isDirectory() === true;
  }

  /**
   * The path of `rel` in the stacked tree, following symlinks in its parent directories as the
   * target system would (absolute links from the root): Debian's /bin is a link to usr/bin, and
   * an absolute link must never lead a write onto the build machine's own files.
   */
  async resolve(rel: string, followLeaf: boolean): Promise<string[]> {
    const parts = rel.split('/');
    const leaf = followLeaf ? undefined : parts.pop();
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
      const here = [...resolved, part];
      const found = await this.lstat(here);
      if (!found?.st.isSymbolicLink()) {
        resolved = here;
        continue;
      }
      if (++hops > 40) throw new BootfleetError('ERR_TEMPLATE', `${rel}: too many symlinks under ${this.upper}`);
      const target = await readlink(join(found.layer === 'upper' ? this.upper : (this.lower ?? this.upper), ...here));
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/'), ...pending];
    }
    return leaf === undefined || leaf === '' ? resolved : [...resolved, leaf];
  }

  /**
   * Makes the directories above `parts` in the upper tree: a directory the lower tree has is
   * copied up with its mode (and owner), a new one gets 0755.
   */
  async makeParents(parts: readonly string[], rel: string): Promise<void> {
    for (let i = 1; i < parts.length; i++) {
      const sub = parts.slice(0, i);
      const found = await this.lstat(sub);
      if (found && !found.st.isDirectory()) throw new BootfleetError('ERR_TEMPLATE', `${rel}: ${sub.join('/')} is not a directory in the root`);
      if (found?.layer === 'upper') continue;
      const dir = join(this.upper, ...sub);
      await mkdir(dir);
      await chmod(dir, found ? found.st.mode & 0o7777 : 0o755);
      if (found && !this.ignoreOwners && (found.st.uid !== process.getuid?.() || found.st.gid !== process.getgid?.())) {
        await lchown(dir, found.st.uid, found.st.gid).catch((err: unknown) => {
          throw new BootfleetError('ERR_COMMAND_FAILED', `cannot give ${dir} the owner ${found.st.uid}:${found.st.gid} it has in the base root (build as root): ${(err as Error).message}`, { cause: err });
        });
      }
    }
  }
}
