import { chmod, copyFile, lchown, mkdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { BootfleetError, UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { defaultCacheDir, fetchDebs, type DebArch } from './apt-cache.js';
import { debianBusybox, debianKernel, type DebianKernel } from './debs.js';
import { cachedNodeInitramfs } from './initramfs/cache.js';
import { putLayer, withLayerLock } from './layer-store.js';
import { storeBootLoaders } from './loaders.js';
import { applyLayers, imageLayers } from './layers.js';
import { timed, type ProgressSink, type Stage, type StageReport } from './progress.js';
import { loadRecipe, type Recipe } from './recipe.js';
import { prepareBase } from './rootfs/base.js';
import { baseRootBytes, cachedBaseLayer } from './rootfs/base-layer.js';
import { DEBIAN_BASE_PACKAGES } from './rootfs/debian.js';
import { writePiBootFiles } from './rootfs/pi-boot.js';
import { treeBytes } from './rootfs/size.js';
import { makeSquashfs, sourceDateEpoch } from './squashfs.js';
import { contentVersion, hashTree, imageId, readManifest, sha256File, writeManifest, type Layer, type Manifest } from './store.js';

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
  /** Cached base roots and their squashfs layers; default `<cacheDir>/bases`. Tests point it at a temp dir for a cold build. */
  basesDir?: string;
  /** Cached node initramfs archives; default `<cacheDir>/initramfs`. */
  initramfsDir?: string;
  /** Rebuild the base root (and its layer) even if a cached one matches. */
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
 * Builds the recipe's boot sets, one per arch, into the store. The root is two squashfs layers
 * (docs/images.md "Layers"): the base root, packed once per base and shared, and the image layer
 * with what the recipe's overlays and the built-in layer add. Stages: fetch (Debian packages into
 * the apt cache), rootfs (cached base root), base-layer (its squashfs, cached beside it), overlays
 * (the recipe's), builtin (what every image gets, src/images/layers.ts), initramfs (cached by its
 * inputs), squashfs (the image layer), pi (arm64 + pi target), store, loaders (the iPXE binaries
 * for this arch, into <store>/.loaders).
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
    initramfsDir: opts.initramfsDir ?? join(cacheDir, 'initramfs'),
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
  initramfsDir: string;
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
    return { value: b, bytes: await baseRootBytes(basesDir, b.key), note: b.hit ? 'base cache hit' : 'base built' };
  });
  // A busybox root is all root's (its tree is built unprivileged); a Debian root keeps its owners.
  const squash = { time: ctx.epoch, allRoot: recipe.base === 'busybox' };
  const baseLayer = await timed(sink, 'base-layer', arch, async () => {
    const l = await cachedBaseLayer(basesDir, base.key, squash);
    return { value: l, bytes: l.size, note: l.hit ? 'cached' : 'packed' };
  });
  const out = join(ctx.store, recipe.name, `.build-${arch}-${randomBytes(4).toString('hex')}`);
  const upper = `${out}-layer`;
  const imageLayerFile = `${out}-layer.squashfs`;
  try {
    await mkdir(out, { recursive: true });
    await mkdir(upper);
    // The layer's own root directory as the base has it (not as the builder's umask makes it).
    const top = await stat(base.dir);
    await chmod(upper, top.mode & 0o7777);
    if (!squash.allRoot) await lchown(upper, top.uid, top.gid);
    const layers = imageLayers(recipe, ctx.overlaysDir);
    const context = { image: { name: recipe.name, arch }, recipe };
    // Both go into the image layer, a tree holding only what they add or replace over the base.
    const over = { lower: base.dir, ignoreOwners: squash.allRoot };
    await timed(sink, 'overlays', arch, async () => ({ value: undefined, bytes: await applyLayers(upper, layers.overlays, context, over) }));
    await timed(sink, 'builtin', arch, async () => ({ value: undefined, bytes: await applyLayers(upper, layers.builtin, context, over) }));
    await timed(sink, 'initramfs', arch, async () => {
      const initrd = await cachedNodeInitramfs(ctx.initramfsDir, { arch, kernel: inputs.kernel, busybox: inputs.busybox, mtime: ctx.epoch });
      await copyFile(initrd.file, join(out, 'initrd.img'));
      await copyFile(inputs.kernel.vmlinuz, join(out, 'vmlinuz'));
      return { value: undefined, bytes: (await stat(initrd.file)).size, note: initrd.hit ? 'cache hit' : 'built' };
    });
    const imageLayer = await timed(sink, 'squashfs', arch, async () => {
      const { bytes } = await makeSquashfs(upper, imageLayerFile, squash);
      return { value: { file: imageLayerFile, sha256: await sha256File(imageLayerFile), size: bytes }, bytes, note: 'image layer' };
    });
    if (recipe.targets.includes('pi') && arch === 'arm64') {
      await timed(sink, 'pi', arch, async () => {
        const files = await writePiBootFiles(join(out, 'rpi'), inputs.kernel, join(out, 'initrd.img'), { cacheDir, log });
        return { value: undefined, bytes: await treeBytes(join(out, 'rpi')), note: `${files.length} files` };
      });
    }
    const stored = await timed(sink, 'store', arch, async () => {
      const s = await commit(ctx, arch, inputs.kernel, out, { base: baseLayer, image: imageLayer });
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
    await rm(upper, { recursive: true, force: true });
    await rm(imageLayerFile, { force: true });
    await rm(out, { recursive: true, force: true });
  }
}

interface LayerFile {
  file: string;
  sha256: string;
  size: number;
}

/**
 * Hashes the boot set, puts its layers into `<store>/.layers/` and renames the boot set with its
 * manifest into the store (or keeps the identical one there), all under the store's layer lock
 * so garbage collection never takes a layer between being stored and being named.
 */
async function commit(ctx: Ctx, arch: DebArch, kernel: DebianKernel, out: string, layerFiles: { base: LayerFile; image: LayerFile }): Promise<{ manifest: Manifest; id: string; dir: string; alreadyStored: boolean }> {
  const files = await hashTree(out);
  const layers: Layer[] = [
    { role: 'base', sha256: layerFiles.base.sha256, size: layerFiles.base.size },
    { role: 'image', sha256: layerFiles.image.sha256, size: layerFiles.image.size },
  ];
  const manifest: Manifest = {
    name: ctx.recipe.name,
    version: contentVersion(files, layers),
    arch,
    recipeHash: ctx.recipeHash,
    buildTime: new Date().toISOString(),
    kernelVersion: kernel.version,
    files,
    layers,
  };
  const id = imageId(manifest);
  const dir = join(ctx.store, ctx.recipe.name, id);
  await writeManifest(out, manifest);
  return withLayerLock(ctx.store, async () => {
    await putLayer(ctx.store, layerFiles.base.file, layerFiles.base.sha256);
    await putLayer(ctx.store, layerFiles.image.file, layerFiles.image.sha256, { move: true });
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
  });
}
