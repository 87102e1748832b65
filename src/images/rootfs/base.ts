import type { Logger } from '../../log.js';
import type { DebArch } from '../apt-config.js';
import type { FetchedDeb } from '../apt-cache.js';
import type { Recipe } from '../recipe.js';
import { sha256File } from '../store.js';
import { BUSYBOX_ROOT_FORMAT, buildBusyboxRoot, busyboxLayoutHash } from './busybox.js';
import { baseKey, cachedBase } from './cache.js';
import { DEBIAN_ROOT_FORMAT, buildDebianRoot } from './debian.js';

export interface BaseOptions {
  recipe: Recipe;
  arch: DebArch;
  /** The static busybox for `arch` (the busybox base copies it). */
  busybox: string;
  /** The .debs fetched for the recipe (debian base): their exact versions key the cache. */
  debs: readonly FetchedDeb[];
  /** Package cache (mmdebstrap keeps its .debs there). */
  cacheDir: string;
  /** Where cached base roots live. */
  basesDir: string;
  log: Logger;
  epoch: number;
  fresh: boolean;
}

/**
 * The recipe's base root for `arch` from the cache, built on a miss. The key covers the base
 * kind, arch, packages, the exact package versions (busybox by content hash) and the layout
 * version of the code that builds it; overlays are not part of it, so an overlay-only change
 * reuses the base. For a debian base the versions are those of the recipe's own packages (and
 * the base ones); a security update that only touches a dependency is picked up with --fresh-base.
 */
export async function prepareBase(o: BaseOptions): Promise<{ dir: string; hit: boolean; key: string }> {
  const debian = o.recipe.base === 'debian';
  const key = baseKey({
    base: o.recipe.base,
    arch: o.arch,
    packages: o.recipe.packages,
    // The busybox tree's own files (rcS, inittab, scripts) are inputs too: a change to them must
    // not be hidden by a tree cached before it.
    inputs: debian ? o.debs.map((d) => `${d.name}:${d.arch}=${d.version}`) : [`busybox-sha256=${await sha256File(o.busybox)}`, `layout-sha256=${busyboxLayoutHash()}`],
    format: debian ? DEBIAN_ROOT_FORMAT : BUSYBOX_ROOT_FORMAT,
  });
  const build = debian
    ? (dir: string) => buildDebianRoot(dir, o.arch, o.recipe.packages, { cacheDir: o.cacheDir, log: o.log, epoch: o.epoch })
    : (dir: string) => buildBusyboxRoot(dir, o.busybox);
  const { dir, hit } = await cachedBase(o.basesDir, key, build, o.fresh);
  return { dir, hit, key };
}
