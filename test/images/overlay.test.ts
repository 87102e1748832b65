import test from 'ava';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootfleetError } from '../../src/errors.js';
import { applyOverlay, renderOverlay } from '../../src/images/overlay.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-overlay-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function put(root: string, rel: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(join(root, rel, '..'), { recursive: true });
  await writeFile(join(root, rel), text);
  await chmod(join(root, rel), mode);
}

test('renders .hbs files (suffix stripped, no HTML escaping), copies the rest, keeps modes, sorted', async (t) => {
  const dir = await tempDir(t);
  await put(dir, 'etc/motd.hbs', 'hello {{node.hostname}} <{{image.name}}>\n');
  await put(dir, 'etc/bootfleet/start.d/10-httpd', '#!/bin/sh\n', 0o755);
  await put(dir, 'srv/www/a.txt', '{{not rendered}}');
  await mkdir(join(dir, 'b-dir'));
  await chmod(join(dir, 'b-dir'), 0o700);
  await symlink('../srv/www/a.txt', join(dir, 'etc/link'));
  const files = await renderOverlay(dir, { node: { hostname: 'n1' }, image: { name: 'a&b' } });
  t.deepEqual(files.map((f) => f.path), [
    'b-dir', 'etc', 'etc/bootfleet', 'etc/bootfleet/start.d', 'etc/bootfleet/start.d/10-httpd', 'etc/link', 'etc/motd', 'srv', 'srv/www', 'srv/www/a.txt',
  ]);
  const by = new Map(files.map((f) => [f.path, f]));
  t.is(by.get('etc/motd')?.data?.toString(), 'hello n1 <a&b>\n');
  t.is(by.get('etc/motd')?.type, 'file');
  t.is(by.get('etc/bootfleet/start.d/10-httpd')?.mode, 0o755);
  t.is(by.get('b-dir')?.mode, 0o700);
  t.is(by.get('b-dir')?.type, 'dir');
  t.is(by.get('srv/www/a.txt')?.data?.toString(), '{{not rendered}}');
  t.deepEqual({ type: by.get('etc/link')?.type, target: by.get('etc/link')?.target }, { type: 'symlink', target: '../srv/www/a.txt' });
});

test('strict mode: a missing variable fails naming the file and the variable', async (t) => {
  const dir = await tempDir(t);
  await put(dir, 'etc/hostname.hbs', '{{node.hostname}}\n');
  await put(dir, 'etc/motd.hbs', 'image {{image.version}}\n');
  const err = await t.throwsAsync(renderOverlay(dir, { node: { hostname: 'n1' }, image: { name: 'x' } }), { instanceOf: BootfleetError });
  t.is(err?.code, 'ERR_TEMPLATE');
  t.true(err?.message.includes(join(dir, 'etc/motd.hbs')), err?.message);
  t.regex(err?.message ?? '', /missing variable "version"/);
});

test('symlinks that leave the overlay are refused; links inside (relative or absolute) are kept', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'etc'));
  await symlink('/etc/passwd', join(dir, 'etc/abs'));
  await symlink('../etc/abs', join(dir, 'etc/rel'));
  t.is((await renderOverlay(dir, {})).length, 3);
  await symlink('../../../etc/shadow', join(dir, 'etc/escape'));
  await t.throwsAsync(renderOverlay(dir, {}), { message: /points outside the overlay root/ });
});

test('two sources for one path and a missing overlay are errors', async (t) => {
  const dir = await tempDir(t);
  await put(dir, 'etc/motd', 'a');
  await put(dir, 'etc/motd.hbs', 'b');
  await t.throwsAsync(renderOverlay(dir, {}), { message: /two entries for etc\/motd/ });
  await t.throwsAsync(renderOverlay(join(dir, 'nope'), {}), { message: /is not a directory/ });
});

test('applyOverlay replaces files without writing through hard links, and stays inside the root through its symlinks', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'root');
  await put(root, 'usr/bin/tool', 'old');
  await symlink('usr/bin', join(root, 'bin'));
  await symlink('/usr', join(root, 'abs-usr'));
  const cached = join(dir, 'cached');
  await put(dir, 'cached', 'base');
  await mkdir(join(root, 'etc'));
  const { link } = await import('node:fs/promises');
  await link(cached, join(root, 'etc/motd'));
  await applyOverlay(root, [
    { path: 'bin', mode: 0o755, type: 'dir' },
    { path: 'bin/tool', mode: 0o755, type: 'file', data: Buffer.from('new') },
    { path: 'abs-usr/lib/x', mode: 0o600, type: 'file', data: Buffer.from('x') },
    { path: 'etc/motd', mode: 0o644, type: 'file', data: Buffer.from('overlay') },
    { path: 'etc/l', mode: 0o777, type: 'symlink', target: 'motd' },
  ]);
  t.is(await readFile(join(root, 'usr/bin/tool'), 'utf8'), 'new');
  t.is((await lstat(join(root, 'usr/bin/tool'))).mode & 0o777, 0o755);
  t.true((await lstat(join(root, 'bin'))).isSymbolicLink(), 'an overlay dir does not replace the root\'s link');
  t.is(await readFile(join(root, 'usr/lib/x'), 'utf8'), 'x');
  t.is((await lstat(join(root, 'usr/lib/x'))).mode & 0o777, 0o600);
  t.is(await readFile(join(root, 'etc/motd'), 'utf8'), 'overlay');
  t.is(await readFile(cached, 'utf8'), 'base', 'the hard-linked original is untouched');
  t.is(await readlink(join(root, 'etc/l')), 'motd');
});

/** Every path under `dir` with its kind, sorted ("d etc", "f etc/motd", "l bin -> usr/bin"). */
async function listing(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const out: string[] = [];
  for (const rel of (await readdir(dir, { recursive: true })).sort()) {
    const st = await lstat(join(dir, rel));
    out.push(st.isDirectory() ? `d ${rel} ${(st.mode & 0o7777).toString(8)}` : st.isSymbolicLink() ? `l ${rel} -> ${await readlink(join(dir, rel))}` : `f ${rel}`);
  }
  return out;
}

test('applyOverlay with a lower root writes only the layer: what it adds or replaces, and the lower root\'s directories above it with their modes', async (t) => {
  const dir = await tempDir(t);
  const lower = join(dir, 'base');
  const upper = join(dir, 'layer');
  await put(lower, 'usr/bin/tool', 'old', 0o755);
  await symlink('usr/bin', join(lower, 'bin'));
  await put(lower, 'etc/motd', 'base motd');
  await chmod(join(lower, 'etc'), 0o750);
  await put(lower, 'srv/www/old/index.html', 'old site');
  await put(lower, 'var/lib/untouched', 'x');
  await mkdir(upper);
  const before = await listing(lower);
  await applyOverlay(upper, [
    { path: 'bin', mode: 0o755, type: 'dir' },
    { path: 'bin/tool', mode: 0o755, type: 'file', data: Buffer.from('new') },
    { path: 'etc', mode: 0o755, type: 'dir' },
    { path: 'etc/motd', mode: 0o644, type: 'file', data: Buffer.from('layer motd') },
    { path: 'etc/new.d', mode: 0o700, type: 'dir' },
    { path: 'etc/new.d/conf', mode: 0o600, type: 'file', data: Buffer.from('c') },
    { path: 'srv/www/old', mode: 0o644, type: 'file', data: Buffer.from('a file where the base has a folder') },
    { path: 'var', mode: 0o755, type: 'dir' },
  ], { lower });
  t.deepEqual(await listing(upper), [
    'd etc 750', 'f etc/motd', 'd etc/new.d 700', 'f etc/new.d/conf',
    'd srv 755', 'd srv/www 755', 'f srv/www/old',
    'd usr 755', 'd usr/bin 755', 'f usr/bin/tool',
  ], 'through the base\'s bin -> usr/bin link; etc keeps the base\'s 0750; nothing for var, which it only mirrors');
  t.is(await readFile(join(upper, 'usr/bin/tool'), 'utf8'), 'new');
  t.deepEqual(await listing(lower), before, 'the lower root is never written');
  t.is(await readFile(join(lower, 'etc/motd'), 'utf8'), 'base motd');
});

test('applyOverlay with a lower root: later entries see earlier ones, and a base folder made a file cannot become a folder again', async (t) => {
  const dir = await tempDir(t);
  const lower = join(dir, 'base');
  const upper = join(dir, 'layer');
  await put(lower, 'opt/app/bin/run', 'r');
  await mkdir(upper);
  await applyOverlay(upper, [
    { path: 'opt/link', mode: 0o777, type: 'symlink', target: 'app' },
    { path: 'opt/link/extra', mode: 0o644, type: 'file', data: Buffer.from('e') },
  ], { lower });
  t.is(await readFile(join(upper, 'opt/app/extra'), 'utf8'), 'e', 'a link the layer itself made is followed into the base\'s folder');
  await applyOverlay(upper, [{ path: 'opt/app', mode: 0o644, type: 'file', data: Buffer.from('now a file') }], { lower });
  await t.throwsAsync(applyOverlay(upper, [{ path: 'opt/app', mode: 0o755, type: 'dir' }], { lower }), { message: /opt\/app: an overlay made this directory of the base a file, and a later one makes it a directory again/ });
  await t.throwsAsync(applyOverlay(upper, [{ path: 'opt/app/x', mode: 0o644, type: 'file', data: Buffer.from('x') }], { lower }), { message: /opt\/app is not a directory/ });
});
