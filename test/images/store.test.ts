import test from 'ava';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageInspectCommand, imageListCommand, imageRmCommand } from '../../src/commands/image.js';
import { contentVersion, hashTree, listImages, parseRef, readManifest, removeImage, writeManifest, type Manifest } from '../../src/images/store.js';

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
