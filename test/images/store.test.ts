import test from 'ava';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageInspectCommand, imageListCommand, imageRmCommand } from '../../src/commands/image.js';
import { collectLayers, contentVersion, hashTree, listImages, parseRef, readManifest, removeImage, writeManifest, type Layer, type Manifest } from '../../src/images/store.js';
import { putLayer, withLayerLock } from '../../src/images/layer-store.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Stores a fake boot set whose content (and so version) depends on `seed`. */
async function fakeImage(store: string, name: string, arch: string, seed: string, buildTime: string): Promise<Manifest> {
  const tmp = join(store, name, `.tmp-${seed}`);
  await mkdir(join(tmp, 'rpi'), { recursive: true });
  await writeFile(join(tmp, 'vmlinuz'), `kernel ${seed}`);
  await writeFile(join(tmp, 'rpi', 'config.txt'), 'arm_64bit=1\n');
  const files = await hashTree(tmp);
  const m: Manifest = { name, version: contentVersion(files), arch, recipeHash: 'r', buildTime, kernelVersion: '6.1', files };
  await writeManifest(tmp, m);
  const { rename } = await import('node:fs/promises');
  await rename(tmp, join(store, name, `${m.version}-${arch}`));
  return m;
}

test('contentVersion: 12 hex digits over paths and hashes, independent of key order', (t) => {
  const a = { x: { sha256: 'aa', size: 1 }, y: { sha256: 'bb', size: 2 } };
  const b = { y: { sha256: 'bb', size: 2 }, x: { sha256: 'aa', size: 1 } };
  t.regex(contentVersion(a), /^[0-9a-f]{12}$/);
  t.is(contentVersion(a), contentVersion(b));
  t.not(contentVersion(a), contentVersion({ x: { sha256: 'aa', size: 1 }, z: { sha256: 'bb', size: 2 } }));
});

test('list, read latest and by version, manifest lists nested files but not itself', async (t) => {
  const store = await tempDir(t);
  const old = await fakeImage(store, 'tiny-web', 'amd64', 'one', '2026-01-01T00:00:00.000Z');
  const neu = await fakeImage(store, 'tiny-web', 'amd64', 'two', '2026-02-01T00:00:00.000Z');
  const arm = await fakeImage(store, 'tiny-web', 'arm64', 'three', '2026-01-15T00:00:00.000Z');
  await mkdir(join(store, 'tiny-web', '.build-junk'));
  t.deepEqual(Object.keys(neu.files), ['rpi/config.txt', 'vmlinuz']);
  const all = await listImages(store);
  t.deepEqual(all.map((i) => i.manifest.version), [neu.version, arm.version, old.version]);
  t.is((await readManifest(store, 'tiny-web')).manifest.version, neu.version);
  t.is((await readManifest(store, 'tiny-web', undefined, 'arm64')).manifest.version, arm.version);
  t.is((await readManifest(store, 'tiny-web', old.version)).id, `${old.version}-amd64`);
  t.is((await readManifest(store, 'tiny-web', `${old.version}-amd64`)).manifest.buildTime, old.buildTime);
  await t.throwsAsync(readManifest(store, 'tiny-web', '000000000000'), { message: /no image tiny-web@000000000000 .*have: tiny-web@/ });
  t.deepEqual(await listImages(join(store, 'nothing-here')), []);
});

test('refs parse; bad ones say how to write one', (t) => {
  t.deepEqual(parseRef('tiny-web'), { name: 'tiny-web' });
  t.deepEqual(parseRef('tiny-web@0123456789ab-amd64'), { name: 'tiny-web', version: '0123456789ab-amd64' });
  t.throws(() => parseRef('Tiny@x'), { message: /not an image reference/ });
});

test('removeImage refuses while in use, naming the user; removes otherwise', async (t) => {
  const store = await tempDir(t);
  const m = await fakeImage(store, 'tiny-web', 'amd64', 'one', '2026-01-01T00:00:00.000Z');
  await t.throwsAsync(removeImage(store, 'tiny-web', m.version, { inUse: () => 'node 52:54:00:00:00:01' }), { message: /in use by node 52:54:00:00:00:01/ });
  await access(join(store, 'tiny-web', `${m.version}-amd64`, 'vmlinuz'));
  await removeImage(store, 'tiny-web', m.version, { inUse: () => undefined });
  t.deepEqual(await listImages(store), []);
});

test('image commands: list, inspect, rm checks nodes.json (records with and without image)', async (t) => {
  const store = await tempDir(t);
  const state = await tempDir(t);
  const old = await fakeImage(store, 'tiny-web', 'amd64', 'one', '2026-01-01T00:00:00.000Z');
  const neu = await fakeImage(store, 'tiny-web', 'amd64', 'two', '2026-02-01T00:00:00.000Z');
  let out = '';
  const sink = (s: string): void => void (out += s);
  await imageListCommand({ store, json: false }, sink);
  t.regex(out, new RegExp(`tiny-web@${neu.version}-amd64 +amd64 +6\\.1`));
  out = '';
  await imageListCommand({ store, json: true }, sink);
  t.is((JSON.parse(out) as { images: unknown[] }).images.length, 2);
  out = '';
  await imageInspectCommand({ ref: `tiny-web@${old.version}`, store }, sink);
  t.is((JSON.parse(out) as Manifest).version, old.version);

  await writeFile(join(state, 'nodes.json'), JSON.stringify({ version: 1, nodes: [
    { mac: '52:54:00:00:00:01' },
    { mac: '52:54:00:00:00:02', image: `tiny-web@${old.version}` },
    { mac: '52:54:00:00:00:03', image: 'tiny-web' },
  ] }));
  await t.throwsAsync(imageRmCommand({ ref: `tiny-web@${old.version}-amd64`, store, stateDir: state }, sink), { message: /in use by node 52:54:00:00:00:02/ });
  await t.throwsAsync(imageRmCommand({ ref: `tiny-web@${neu.version}`, store, stateDir: state }, sink), { message: /in use by node 52:54:00:00:00:03/ });
  await t.throwsAsync(imageRmCommand({ ref: 'tiny-web', store, stateDir: state }, sink), { message: /needs a version/ });
  await writeFile(join(state, 'nodes.json'), JSON.stringify({ version: 1, nodes: [{ mac: '52:54:00:00:00:01' }] }));
  out = '';
  await imageRmCommand({ ref: `tiny-web@${old.version}`, store, stateDir: state }, sink);
  t.is(out, `removed tiny-web@${old.version}-amd64\n`);
  await imageRmCommand({ ref: `tiny-web@${neu.version}`, store, stateDir: join(state, 'none') }, sink);
  t.deepEqual(await listImages(store), []);
});

/** Stores a layered boot set naming `layers` (each stored in `.layers/` from its bytes). */
async function layeredImage(store: string, name: string, seed: string, layers: Array<{ role: 'base' | 'image'; bytes: string }>): Promise<Manifest> {
  const tmp = join(store, name, `.tmp-${seed}`);
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'vmlinuz'), `kernel ${seed}`);
  const files = await hashTree(tmp);
  const named: Layer[] = [];
  for (const l of layers) {
    const src = join(store, `.src-${seed}-${l.role}`);
    await writeFile(src, l.bytes);
    const sha256 = createHash('sha256').update(l.bytes).digest('hex');
    await withLayerLock(store, () => putLayer(store, src, sha256, { move: true }));
    named.push({ role: l.role, sha256, size: l.bytes.length });
  }
  const m: Manifest = { name, version: contentVersion(files, named), arch: 'amd64', recipeHash: 'r', buildTime: `2026-01-0${seed.length}T00:00:00.000Z`, kernelVersion: '6.1', files, layers: named };
  await writeManifest(tmp, m);
  const { rename } = await import('node:fs/promises');
  await rename(tmp, join(store, name, `${m.version}-amd64`));
  return m;
}

const layerFiles = async (store: string): Promise<string[]> => (await readdir(join(store, '.layers'))).filter((f) => f.endsWith('.squashfs')).sort();
const shaOf = (s: string): string => createHash('sha256').update(s).digest('hex');

test('contentVersion counts the layers and their order', (t) => {
  const files = { vmlinuz: { sha256: 'aa', size: 1 } };
  const base: Layer = { role: 'base', sha256: 'b'.repeat(64), size: 1 };
  const top: Layer = { role: 'image', sha256: 'c'.repeat(64), size: 1 };
  t.not(contentVersion(files, [base, top]), contentVersion(files));
  t.not(contentVersion(files, [base, top]), contentVersion(files, [base, { ...top, sha256: 'd'.repeat(64) }]));
  t.not(contentVersion(files, [base, top]), contentVersion(files, [{ ...top, role: 'base' }, { ...base, role: 'image' }]));
  t.is(contentVersion(files, []), contentVersion(files), 'a boot set from before layers keeps its version');
});

test('image rm keeps a base layer another version still uses and collects it when the last user goes', async (t) => {
  const store = await tempDir(t);
  const a = await layeredImage(store, 'web', 'a', [{ role: 'base', bytes: 'shared base' }, { role: 'image', bytes: 'image a' }]);
  const b = await layeredImage(store, 'web', 'bb', [{ role: 'base', bytes: 'shared base' }, { role: 'image', bytes: 'image b' }]);
  const other = await layeredImage(store, 'other', 'ccc', [{ role: 'base', bytes: 'shared base' }, { role: 'image', bytes: 'image c' }]);
  t.deepEqual(await layerFiles(store), ['shared base', 'image a', 'image b', 'image c'].map((s) => `${shaOf(s)}.squashfs`).sort(), 'the shared base is stored once');

  const removedA = await removeImage(store, 'web', a.version, { inUse: () => undefined });
  t.deepEqual(removedA.freedLayers, [{ sha256: shaOf('image a'), size: 7 }], 'only its own image layer goes');
  await removeImage(store, 'web', b.version, { inUse: () => undefined });
  t.true((await layerFiles(store)).includes(`${shaOf('shared base')}.squashfs`), 'another recipe still uses the base');
  const last = await removeImage(store, 'other', other.version, { inUse: () => undefined });
  t.deepEqual(last.freedLayers.map((l) => l.sha256).sort(), [shaOf('shared base'), shaOf('image c')].sort());
  t.deepEqual(await layerFiles(store), []);
});

test('layers are not collected while some boot set has no readable manifest, nor while the layer lock is held', async (t) => {
  const store = await tempDir(t);
  const a = await layeredImage(store, 'web', 'a', [{ role: 'base', bytes: 'base' }, { role: 'image', bytes: 'top' }]);
  await mkdir(join(store, 'web', '0123456789ab-amd64'));
  await writeFile(join(store, 'web', '0123456789ab-amd64', 'manifest.json'), '{ torn');
  await removeImage(store, 'web', a.version, { inUse: () => undefined });
  t.is((await layerFiles(store)).length, 2, 'what the unreadable boot set uses cannot be known: nothing is deleted');
  await rm(join(store, 'web', '0123456789ab-amd64'), { recursive: true });
  let gc: Promise<string[]> | undefined;
  await withLayerLock(store, async () => {
    gc = collectLayers(store).then((f) => f.map((l) => l.sha256));
    await new Promise((r) => setTimeout(r, 1000));
    t.is((await layerFiles(store)).length, 2, 'garbage collection waits while a build holds the lock');
  });
  t.deepEqual((await gc)?.sort(), [shaOf('base'), shaOf('top')].sort(), 'and collects once it is released');
});

test('putLayer copies and checks a layer, replaces a damaged copy, and refuses bytes that are not the named sha256', async (t) => {
  const store = await tempDir(t);
  const src = join(store, 'src');
  await writeFile(src, 'layer bytes');
  const sha = shaOf('layer bytes');
  t.deepEqual(await putLayer(store, src, sha), { path: join(store, '.layers', `${sha}.squashfs`), added: true });
  t.is(await readFile(src, 'utf8'), 'layer bytes', 'a copy, the source stays');
  t.false((await putLayer(store, src, sha)).added, 'already there');
  await writeFile(join(store, '.layers', `${sha}.squashfs`), 'layer bytez');
  t.true((await putLayer(store, src, sha)).added, 'a damaged copy is replaced');
  t.is(await readFile(join(store, '.layers', `${sha}.squashfs`), 'utf8'), 'layer bytes');
  await t.throwsAsync(putLayer(store, src, shaOf('other')), { message: /has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} it was stored under/ });
  t.deepEqual(await layerFiles(store), [`${sha}.squashfs`], 'nothing is named after bytes it does not hold');
});

test('image inspect lists the layers with their files; image list and rm count them', async (t) => {
  const store = await tempDir(t);
  const m = await layeredImage(store, 'web', 'a', [{ role: 'base', bytes: 'base!' }, { role: 'image', bytes: 'top' }]);
  let out = '';
  const sink = (s: string): void => void (out += s);
  await imageInspectCommand({ ref: 'web', store }, sink);
  const shown = JSON.parse(out) as { layers: Array<{ role: string; sha256: string; size: number; file: string }>; size: number };
  t.deepEqual(shown.layers, [
    { role: 'base', sha256: shaOf('base!'), size: 5, file: join(store, '.layers', `${shaOf('base!')}.squashfs`) },
    { role: 'image', sha256: shaOf('top'), size: 3, file: join(store, '.layers', `${shaOf('top')}.squashfs`) },
  ]);
  t.is(shown.size, 5 + 3 + 'kernel a'.length);
  out = '';
  await imageRmCommand({ ref: `web@${m.version}`, store, stateDir: join(store, 'no-state') }, sink);
  t.is(out, `removed web@${m.version}-amd64 and 2 layers no other build uses (8 B)\n`);
});
