import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { BootfleetError } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import { sha256File } from './hash.js';
import { LAYER_FILE, SHA256, layerFileName, layersDir, withLayerLock } from './layer-store.js';

export { sha256File } from './hash.js';

/**
 * The image store. Layout: `<store>/<name>/<version>-<arch>/` holds one boot set (vmlinuz,
 * initrd.img, rpi/…) and its manifest.json; the root's layers live once per content in
 * `<store>/.layers/<sha256>.squashfs` (src/images/layer-store.ts), named by the manifests that
 * use them. `version` is content-addressed (see {@link contentVersion}), so one recipe built for
 * two arches gives two versions; the arch in the folder name is for people reading `ls`. Folders
 * starting with "." (temp folders, `.layers`, `.loaders`) are not images.
 *
 * A boot set built before layers existed has `root.squashfs` among its files and no `layers`;
 * the controller still boots it as a root of one layer (docs/images.md "Layers").
 */
export interface Manifest {
  name: string;
  /** First 12 hex digits of the content hash; never includes buildTime. */
  version: string;
  arch: string;
  recipeHash: string;
  /** ISO 8601; when this boot set was (last) built. */
  buildTime: string;
  kernelVersion: string;
  /** Every file of the boot set but manifest.json, by "/"-separated relative path. */
  files: Record<string, { sha256: string; size: number }>;
  /** The root's layers, bottom first (base, then image); absent in boot sets built before layers. */
  layers?: Layer[];
}

/** One squashfs layer of a root, stored as `<store>/.layers/<sha256>.squashfs`. */
export interface Layer {
  /** base: the recipe's base root, shared by every build on the same base; image: its overlays and the built-in layer. */
  role: 'base' | 'image';
  sha256: string;
  size: number;
}

export interface StoredImage {
  manifest: Manifest;
  /** `<version>-<arch>`: the folder name and the fullest version a ref may give. */
  id: string;
  dir: string;
}

export const MANIFEST = 'manifest.json';

/** The folder name of a manifest's boot set. */
export function imageId(m: Pick<Manifest, 'version' | 'arch'>): string {
  return `${m.version}-${m.arch}`;
}

/**
 * The version of a boot set: sha256 over "<path>\0<sha256>\n" lines sorted by path, then one
 * "@layer/<index>/<role>\0<sha256>\n" line per layer bottom first, first 12 hex digits. Paths
 * count too, so renaming a file is a new version; so does the order of the layers.
 */
export function contentVersion(files: Manifest['files'], layers: readonly Layer[] = []): string {
  const h = createHash('sha256');
  for (const path of Object.keys(files).sort()) h.update(`${path}\0${files[path]?.sha256 ?? ''}\n`);
  layers.forEach((l, i) => h.update(`@layer/${i}/${l.role}\0${l.sha256}\n`));
  return h.digest('hex').slice(0, 12);
}

/** Bytes a boot set takes: its files and its layers (shared layers counted in full). */
export function bootSetBytes(m: Pick<Manifest, 'files' | 'layers'>): number {
  return [...Object.values(m.files), ...(m.layers ?? [])].reduce((n, f) => n + f.size, 0);
}

/** Where a layer of this store lives. */
export function layerPath(store: string, layer: Pick<Layer, 'sha256'>): string {
  return join(layersDir(store), layerFileName(layer.sha256));
}

/** sha256 and size of every file under `dir` (recursively), keyed by relative path; manifest.json excluded. */
export async function hashTree(dir: string): Promise<Manifest['files']> {
  const files: Manifest['files'] = {};
  for (const abs of (await walkFiles(dir)).sort()) {
    const rel = relative(dir, abs).split(sep).join(posix.sep);
    if (rel === MANIFEST) continue;
    files[rel] = { sha256: await sha256File(abs), size: (await stat(abs)).size };
  }
  return files;
}

/** Every image in the store, sorted by name then newest build first. A folder without a readable manifest is skipped. */
export async function listImages(store: string): Promise<StoredImage[]> {
  const out: StoredImage[] = [];
  for (const name of await dirNames(store)) {
    for (const id of await dirNames(join(store, name))) {
      const dir = join(store, name, id);
      const manifest = await readJson(join(dir, MANIFEST)).catch(() => undefined);
      if (isManifest(manifest)) out.push({ manifest, id, dir });
    }
  }
  return out.sort((a, b) => a.manifest.name.localeCompare(b.manifest.name) || b.manifest.buildTime.localeCompare(a.manifest.buildTime) || a.id.localeCompare(b.id));
}

/**
 * The image `name` at `version` (12 hex digits, or `<version>-<arch>`), or without a version the
 * newest build (latest buildTime) of `name`, optionally only for `arch`. Throws ERR_USAGE naming
 * what exists when nothing matches.
 */
export async function readManifest(store: string, name: string, version?: string, arch?: string): Promise<StoredImage> {
  const all = (await listImages(store)).filter((i) => i.manifest.name === name && (arch === undefined || i.manifest.arch === arch));
  const match = version === undefined ? all[0] : all.find((i) => i.id === version || i.manifest.version === version);
  if (!match) {
    const have = all.map((i) => `${name}@${i.id}`).join(', ') || 'none';
    throw new BootfleetError('ERR_USAGE', `no image ${name}${version ? `@${version}` : ''}${arch ? ` for ${arch}` : ''} in ${store} (have: ${have})`);
  }
  return match;
}

/** "name" or "name@version", version as {@link readManifest} takes it (also used to validate config). */
export const IMAGE_REF = /^([a-z0-9][a-z0-9._-]*)(?:@([0-9a-f]{12}(?:-[a-z0-9]+)?))?$/;

/** Parses "name" or "name@version" (version as {@link readManifest} takes it). */
export function parseRef(ref: string): { name: string; version?: string } {
  const m = IMAGE_REF.exec(ref);
  if (!m?.[1]) throw new BootfleetError('ERR_USAGE', `"${ref}" is not an image reference: use <name> or <name>@<version>, e.g. tiny-web@0123456789ab-amd64`);
  return m[2] ? { name: m[1], version: m[2] } : { name: m[1] };
}

/** What {@link removeImage} removed: the boot set, and the layers no other boot set named. */
export interface RemovedImage extends StoredImage {
  freedLayers: Array<{ sha256: string; size: number }>;
}

/**
 * Deletes one boot set, then every layer no remaining manifest names ({@link collectLayers}): a
 * layer another version or recipe still uses stays. `inUse(name, id)` returns what uses the boot
 * set (e.g. "node 52:54:00:…"), or undefined; if something does, nothing is deleted and the error
 * names it. The folder is renamed away first so a reader never sees half a boot set.
 */
export async function removeImage(store: string, name: string, version: string, opts: { inUse: (name: string, version: string) => string | undefined }): Promise<RemovedImage> {
  const image = await readManifest(store, name, version);
  const user = opts.inUse(name, image.id);
  if (user !== undefined) throw new BootfleetError('ERR_USAGE', `image ${name}@${image.id} is in use by ${user}; move that off it first`);
  const doomed = join(store, name, `.rm-${image.id}-${process.pid}`);
  await rename(image.dir, doomed);
  await rm(doomed, { recursive: true, force: true });
  return { ...image, freedLayers: await collectLayers(store) };
}

/**
 * Deletes the layers in `<store>/.layers/` that no manifest in the store names, under the layer
 * lock (so never one a build has stored but not yet named). When some boot set folder has no
 * readable manifest, nothing is deleted: what it used cannot be known. Returns what was deleted.
 */
export async function collectLayers(store: string): Promise<Array<{ sha256: string; size: number }>> {
  return withLayerLock(store, async () => {
    const named = await namedLayers(store);
    if (named === undefined) return [];
    const freed: Array<{ sha256: string; size: number }> = [];
    for (const file of (await readdir(layersDir(store)).catch(() => [])).sort()) {
      const sha256 = LAYER_FILE.exec(file)?.[1];
      if (sha256 === undefined || named.has(sha256)) continue;
      const path = join(layersDir(store), file);
      const size = (await stat(path).catch(() => undefined))?.size ?? 0;
      await rm(path, { force: true });
      freed.push({ sha256, size });
    }
    return freed;
  });
}

/** sha256 of every layer some manifest names; undefined when a boot set folder's manifest cannot be read. */
async function namedLayers(store: string): Promise<Set<string> | undefined> {
  const named = new Set<string>();
  for (const name of await dirNames(store)) {
    for (const id of await dirNames(join(store, name))) {
      const manifest = await readJson(join(store, name, id, MANIFEST)).catch(() => undefined);
      if (!isManifest(manifest)) return undefined;
      for (const l of manifest.layers ?? []) named.add(l.sha256);
    }
  }
  return named;
}

/** Writes a manifest atomically (used by the builder; also to refresh buildTime on an identical rebuild). */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

async function dirNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const abs = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walkFiles(abs)));
    else if (e.isFile()) out.push(abs);
  }
  return out;
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8')) as unknown;
}

function isManifest(x: unknown): x is Manifest {
  const m = x as Partial<Manifest> | undefined;
  return typeof m === 'object' && m !== null && typeof m.name === 'string' && typeof m.version === 'string' && typeof m.arch === 'string' &&
    typeof m.buildTime === 'string' && typeof m.files === 'object' && m.files !== null &&
    (m.layers === undefined || (Array.isArray(m.layers) && m.layers.length > 0 && m.layers.every(isLayer)));
}

function isLayer(x: unknown): x is Layer {
  const l = x as Partial<Layer> | null;
  return typeof l === 'object' && l !== null && (l.role === 'base' || l.role === 'image') &&
    typeof l.sha256 === 'string' && SHA256.test(l.sha256) && Number.isSafeInteger(l.size) && (l.size ?? -1) >= 0;
}
