import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

/**
 * The one rule for file paths that arrive from the network (TFTP filenames, HTTP /files/ paths):
 * one leading `/` is dropped (most TFTP clients send it); NUL, backslashes (`..\x` must not
 * become `../x`), a remaining absolute path, `..` segments and an empty path are refused.
 * Returns the cleaned relative path, or the reason it is refused.
 */
export function relativeFromNetwork(path: string): { rel: string } | { refused: string } {
  if (path.includes('\0')) return { refused: 'NUL in path' };
  if (path.includes('\\')) return { refused: 'backslash in path' };
  const rel = path.startsWith('/') ? path.slice(1) : path;
  if (rel.startsWith('/')) return { refused: 'absolute path' };
  const segments = rel.split('/');
  if (segments.some((s) => s === '..')) return { refused: '.. in path' };
  const kept = segments.filter((s) => s !== '' && s !== '.');
  if (kept.length === 0) return { refused: 'empty path' };
  return { rel: kept.join('/') };
}

/**
 * The real path (symlinks resolved) of `rel` under `realRoot` (itself a real path):
 * `undefined` if it does not exist, 'outside' if it resolves outside the root.
 */
export async function realpathInside(realRoot: string, rel: string): Promise<string | 'outside' | undefined> {
  let real: string;
  try {
    real = await realpath(join(realRoot, rel));
  } catch {
    return undefined; // ENOENT, ENOTDIR, ELOOP …
  }
  const prefix = realRoot.endsWith(sep) ? realRoot : realRoot + sep;
  return real === realRoot || real.startsWith(prefix) ? real : 'outside';
}

/** A regular file inside `root` for a path from the network, or undefined (refused or missing). */
export async function resolveInside(root: string, path: string): Promise<string | undefined> {
  const checked = relativeFromNetwork(path);
  if ('refused' in checked) return undefined;
  try {
    const real = await realpathInside(await realpath(root), checked.rel);
    if (real === undefined || real === 'outside') return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}
