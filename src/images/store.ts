import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { BootfleetError } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';

/**
 * The image store. Layout: `<store>/<name>/<version>-<arch>/` holds one boot set (vmlinuz,
 * initrd.img, root.squashfs, rpi/…) and its manifest.json. `version` is content-addressed (see
 * {@link contentVersion}), so one recipe built for two arches gives two versions; the arch in
 * the folder name is for people reading `ls`. Temp folders start with "." and are ignored.
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
 * The version of a boot set: sha256 over "<path>\0<sha256>\n" lines sorted by path, first 12 hex
 * digits. Paths count too, so renaming a file is a new version.
 */
export function contentVersion(files: Manifest['files']): string {
  const h = createHash('sha256');
  for (const path of Object.keys(files).sort()) h.update(`${path}\0${files[path]?.sha256 ?? ''}\n`);
  return h.digest('hex').slice(0, 12);
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

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
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

/**
 * Deletes one boot set. `inUse(name, id)` returns what uses it (e.g. "node 52:54:00:…"), or
 * undefined; if something does, nothing is deleted and the error names it. The folder is renamed
 * away first so a reader never sees half a boot set.
 */
export async function removeImage(store: string, name: string, version: string, opts: { inUse: (name: string, version: string) => string | undefined }): Promise<StoredImage> {
  const image = await readManifest(store, name, version);
  const user = opts.inUse(name, image.id);
  if (user !== undefined) throw new BootfleetError('ERR_USAGE', `image ${name}@${image.id} is in use by ${user}; move that off it first`);
  const doomed = join(store, name, `.rm-${image.id}-${process.pid}`);
  await rename(image.dir, doomed);
  await rm(doomed, { recursive: true, force: true });
  return image;
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
    typeof m.buildTime === 'string' && typeof m.files === 'object' && m.files !== null;
}
