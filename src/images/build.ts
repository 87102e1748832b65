import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { BootfleetError, UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { defaultCacheDir, fetchDebs, type DebArch } from './apt-cache.js';
import { debianBusybox, debianKernel, type DebianKernel } from './debs.js';
import { buildNodeInitramfs } from './initramfs/build.js';
import { storeBootLoaders } from './loaders.js';
import { applyLayers, imageLayers } from './layers.js';
import { timed, type ProgressSink, type Stage, type StageReport } from './progress.js';
import { loadRecipe, type Recipe } from './recipe.js';
import { prepareBase } from './rootfs/base.js';
import { workTree } from './rootfs/cache.js';
import { DEBIAN_BASE_PACKAGES } from './rootfs/debian.js';
import { writePiBootFiles } from './rootfs/pi-boot.js';
import { treeBytes } from './rootfs/size.js';
import { makeSquashfs, sourceDateEpoch } from './squashfs.js';
import { contentVersion, hashTree, imageId, readManifest, writeManifest, type Manifest } from './store.js';

export interface BuildOptions {
  /** Path of images/<name>.yaml. */
  recipe: string;
  /** Build only this arch (must be in the recipe's arches); default all of them. */
  arch?: DebArch;
  /** Default {@link defaultStore}. */
  store?: string;
  /** Where overlays/<name>/ live; default the `overlays/` folder beside the recipe's folder. */
  overlaysDir?: string;
  /** Package and base-root cache; default `$BOOTFLEET_CACHE` or ~/.cache/bootfleet. */
  cacheDir?: string;
  /** Cached base roots; default `<cacheDir>/bases`. Tests point it at a temp dir for a cold build. */
  basesDir?: string;
  /** Rebuild the base root even if a cached one matches. */
  freshBase?: boolean;
  progress?: ProgressSink;
  log?: Logger;
}

/** One arch's boot set, as stored. */
export interface ArchBuild {
  arch: DebArch;
  manifest: Manifest;
  /** `<version>-<arch>`, the store folder name. */
  id: string;
  dir: string;
  /** The base root came from the cache (an overlay-only change, or a plain rebuild). */
  baseCacheHit: boolean;
  /** An identical boot set was already stored; only its manifest's buildTime was refreshed. */
  alreadyStored: boolean;
  stages: StageReport[];
}

export interface BuildResult {
  recipe: Recipe;
  recipeHash: string;
  store: string;
  builds: ArchBuild[];
}

/** `$BOOTFLEET_STORE`, else ./var/images (the controller's default `<stateDir>/images`). */
export function defaultStore(): string {
  return resolve(process.env['BOOTFLEET_STORE'] || join('var', 'images'));
}

/**
 * Builds the recipe's boot sets, one per arch, into the store. Stages: fetch (Debian packages into
 * the apt cache), rootfs (cached base root), overlays (the recipe's), builtin (what every image
 * gets, src/images/layers.ts), initramfs, squashfs, pi (arm64 + pi target), store, loaders (the
 * iPXE binaries for this arch, into <store>/.loaders).
 * Each boot set is assembled in a temp folder inside the store and renamed into place, so the store
 * only ever holds complete boot sets. Same inputs, same bytes: times come from SOURCE_DATE_EPOCH
 * (default 0), never the clock; only manifest.json's buildTime is the wall clock.
 */
export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const { recipe, hash } = await loadRecipe(opts.recipe);
  if (opts.arch !== undefined && !recipe.arches.includes(opts.arch)) {
    throw new UsageError(`--arch ${opts.arch}: recipe ${recipe.name} builds only ${recipe.arches.join(', ')}`);
  }
  const store = resolve(opts.store ?? defaultStore());
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const ctx: Ctx = {
    recipe,
    recipeHash: hash,
    store,
    overlaysDir: resolve(opts.overlaysDir ?? join(dirname(resolve(opts.recipe)), '..', 'overlays')),
    cacheDir,
    basesDir: opts.basesDir ?? join(cacheDir, 'bases'),
    log: opts.log ?? silentLogger(),
    epoch: sourceDateEpoch(),
    freshBase: opts.freshBase ?? false,
  };
  const builds: ArchBuild[] = [];
  for (const arch of opts.arch ? [opts.arch] : recipe.arches) {
    const stages: StageReport[] = [];
    const sink: ProgressSink = Object.assign((r: StageReport) => {
      stages.push(r);
      opts.progress?.(r);
    }, { start: (stage: Stage, a: string) => opts.progress?.start?.(stage, a) });
    builds.push({ ...(await buildArch(ctx, arch, sink)), stages });
  }
  return { recipe, recipeHash: hash, store, builds };
}

interface Ctx {
  recipe: Recipe;
  recipeHash: string;
  store: string;
  overlaysDir: string;
  cacheDir: string;
  basesDir: string;
  log: Logger;
  epoch: number;
  freshBase: boolean;
}

async function buildArch(ctx: Ctx, arch: DebArch, sink: ProgressSink): Promise<Omit<ArchBuild, 'stages'>> {
  const { recipe, cacheDir, basesDir, log } = ctx;
  const inputs = await timed(sink, 'fetch', arch, async () => {
    const kernel = await debianKernel(arch, { cacheDir, log });
    const busybox = await debianBusybox(arch, { cacheDir, log });
    // The debian base: fetch the named packages so their exact versions key the base cache.
    const debs = recipe.base === 'debian' ? await fetchDebs({ arch, packages: [...new Set([...DEBIAN_BASE_PACKAGES, ...recipe.packages])], cacheDir, log }) : [];
    return { value: { kernel, busybox, debs }, note: kernel.version };
  });
  const base = await timed(sink, 'rootfs', arch, async () => {
    const b = await prepareBase({ recipe, arch, busybox: inputs.busybox, debs: inputs.debs, cacheDir, basesDir, log, epoch: ctx.epoch, fresh: ctx.freshBase });
    return { value: b, bytes: await treeBytes(b.dir), note: b.hit ? 'base cache hit' : 'base built' };
  });
  const out = join(ctx.store, recipe.name, `.build-${arch}-${randomBytes(4).toString('hex')}`);
  const work = await workTree(basesDir, base.dir);
  try {
    await mkdir(out, { recursive: true });
    const layers = imageLayers(recipe, ctx.overlaysDir);
    const context = { image: { name: recipe.name, arch }, recipe };
    await timed(sink, 'overlays', arch, async () => ({ value: undefined, bytes: await applyLayers(work, layers.overlays, context) }));
    await timed(sink, 'builtin', arch, async () => ({ value: undefined, bytes: await applyLayers(work, layers.builtin, context) }));
    await timed(sink, 'initramfs', arch, async () => {
      const initrd = await buildNodeInitramfs({ arch, kernel: inputs.kernel, busybox: inputs.busybox, mtime: ctx.epoch });
      await writeFile(join(out, 'initrd.img'), initrd);
      await copyFile(inputs.kernel.vmlinuz, join(out, 'vmlinuz'));
      return { value: undefined, bytes: initrd.length };
    });
    await timed(sink, 'squashfs', arch, async () => {
      const { bytes } = await makeSquashfs(work, join(out, 'root.squashfs'), { time: ctx.epoch, allRoot: recipe.base === 'busybox' });
      return { value: undefined, bytes };
    });
    if (recipe.targets.includes('pi') && arch === 'arm64') {
      await timed(sink, 'pi', arch, async () => {
        const files = await writePiBootFiles(join(out, 'rpi'), inputs.kernel, join(out, 'initrd.img'), { cacheDir, log });
        return { value: undefined, bytes: await treeBytes(join(out, 'rpi')), note: `${files.length} files` };
      });
    }
    const stored = await timed(sink, 'store', arch, async () => {
      const s = await commit(ctx, arch, inputs.kernel, out);
      return { value: s, note: `${recipe.name}@${s.id}${s.alreadyStored ? ' (identical build already stored)' : ''}` };
    });
    // The iPXE binaries PXE firmware of this architecture loads first, kept beside the images so
    // the controller serves them without network access of its own.
    await timed(sink, 'loaders', arch, async () => {
      const files = await storeBootLoaders(ctx.store, arch, { cacheDir, log });
      return { value: undefined, note: files.map((f) => basename(f)).join(', ') };
    });
    return { arch, ...stored, baseCacheHit: base.hit };
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
}

/** Hashes the boot set, writes its manifest and renames it into the store (or keeps the identical one there). */
async function commit(ctx: Ctx, arch: DebArch, kernel: DebianKernel, out: string): Promise<{ manifest: Manifest; id: string; dir: string; alreadyStored: boolean }> {
  const files = await hashTree(out);
  const manifest: Manifest = {
    name: ctx.recipe.name,
    version: contentVersion(files),
    arch,
    recipeHash: ctx.recipeHash,
    buildTime: new Date().toISOString(),
    kernelVersion: kernel.version,
    files,
  };
  const id = imageId(manifest);
  const dir = join(ctx.store, ctx.recipe.name, id);
  await writeManifest(out, manifest);
  try {
    await rename(out, dir);
    return { manifest, id, dir, alreadyStored: false };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw new BootfleetError('ERR_COMMAND_FAILED', `cannot store ${dir}: ${(err as Error).message}`, { cause: err });
  }
  // Same content already stored: it is this build; "latest" should mean the last built, so refresh buildTime.
  const existing = await readManifest(ctx.store, ctx.recipe.name, id);
  await writeManifest(dir, { ...existing.manifest, buildTime: manifest.buildTime });
  return { manifest: { ...existing.manifest, buildTime: manifest.buildTime }, id, dir, alreadyStored: true };
}
