import { realpath, stat } from 'node:fs/promises';
import { resolve, sep, isAbsolute } from 'node:path';

/**
 * Resolves a path that came from the network to a regular file inside `root`, or undefined.
 * Refuses absolute paths, `..` segments, NUL bytes and backslashes outright, then checks the
 * real path (symlinks followed) still lies inside the real root.
 */
export async function resolveInside(root: string, rel: string): Promise<string | undefined> {
  const clean = rel.replace(/^\/+/, '');
  if (clean === '' || clean.includes('\0') || clean.includes('\\') || isAbsolute(clean)) return undefined;
  if (clean.split('/').some((seg) => seg === '..')) return undefined;
  try {
    const realRoot = await realpath(root);
    const real = await realpath(resolve(realRoot, clean));
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}
