import test from 'ava';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { packSiteDir } from '../../src/cluster/pack-dir.js';
import { checkContentTar } from '../../src/cluster/content.js';
import { withApp, type TestApp } from '../helpers/app.js';
import { tarOf } from '../helpers/tar.js';

// Bad input to the site API (issue 9): each refused with a clear error naming the problem, and
// nothing already stored or served changes.

const json = (body: unknown) => ({ method: 'POST', admin: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function withShop(): Promise<TestApp> {
  const app = await withApp();
  const added = await app.call('/api/sites', json({ name: 'shop', domains: ['shop.example'], minReplicas: 2 }));
  if (added.status !== 201) throw new Error(added.text);
  const put = await app.call('/api/sites/shop/content', { method: 'PUT', admin: true, headers: { 'content-type': 'application/x-tar' }, body: (await tarOf({ 'index.html': 'v1' })).toString('latin1') });
  if (put.status !== 200) throw new Error(put.text);
  return app;
}

/** A tar whose member names are given raw (what a hostile client could send). */
async function rawTar(entries: Array<{ name: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string; body?: string }>): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => tar.on('end', r));
  for (const e of entries) tar.entry({ name: e.name, type: e.type ?? 'file', ...(e.linkname ? { linkname: e.linkname } : {}) }, e.body ?? '');
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

test('site add: an invalid domain, a bad name and bad replica counts are refused naming each flag; a domain another site serves is a conflict', async (t) => {
  const app = await withShop();
  t.teardown(app.close);
  const before = app.cluster.current;
  const bad = await app.call('/api/sites', json({ name: 'Bad Name', domains: ['not a domain', 'ok.example', 'ok.example'], minReplicas: 0, maxReplicas: 100 }));
  t.is(bad.status, 400);
  const error = (JSON.parse(bad.text) as { error: string }).error;
  for (const want of [/name "Bad Name"/, /--domain not a domain: not a host name/, /--domain ok\.example: given twice/, /--min-replicas 0/, /--max-replicas 100/]) t.regex(error, want);
  const dup = await app.call('/api/sites', json({ name: 'shop2', domains: ['SHOP.example'] }));
  t.is(dup.status, 409);
  t.regex(dup.text, /--domain shop\.example: already served by site shop/);
  t.is(app.cluster.current.generation, before.generation, 'nothing changed');
  t.deepEqual(Object.keys(app.cluster.current.sites), ['shop']);
});

test('site content escaping its root, holding links or devices, or not a tar is refused and the served version stays', async (t) => {
  const app = await withShop();
  t.teardown(app.close);
  const served = app.cluster.current.sites['shop']?.content;
  const cases: Array<[Buffer, RegExp]> = [
    [await rawTar([{ name: '../etc/passwd' }]), /member \.\.\/etc\/passwd: \.\. in path/],
    [await rawTar([{ name: '/etc/passwd' }]), /member \/etc\/passwd/],
    [await rawTar([{ name: 'link', type: 'symlink', linkname: '/etc' }]), /member link is a symlink: only files and directories/],
    [await rawTar([{ name: 'dir', type: 'directory' }]), /no files in it/],
    [Buffer.from('this is not a tar file at all, not even close, definitely not a tar'), /site content refused/],
  ];
  for (const [tar, want] of cases) {
    const res = await app.call('/api/sites/shop/content', { method: 'PUT', admin: true, headers: { 'content-type': 'application/x-tar' }, body: tar.toString('latin1') });
    t.is(res.status, 400, String(want));
    t.regex(res.text, want);
  }
  t.deepEqual(app.cluster.current.sites['shop']?.content, served, 'the content served before is still the one');
  t.is((await app.call('/api/sites/nosuch/content', { method: 'PUT', admin: true, headers: { 'content-type': 'application/x-tar' }, body: (await tarOf({ a: 'b' })).toString('latin1') })).status, 404);
});

test('content over the size limit is refused', async (t) => {
  const big = await tarOf({ 'a.bin': 'x'.repeat(2048) });
  await t.throwsAsync(checkContentTar(big, 1024), { message: /site content refused: more than 0 MiB of files/ });
  await t.notThrowsAsync(checkContentTar(big, 4096));
});

test('assign to an unknown node and scale of an unknown site name what is missing', async (t) => {
  const app = await withShop();
  t.teardown(app.close);
  const unknown = await app.call('/api/sites/shop/assign', json({ node: '52:54:00:00:00:99' }));
  t.is(unknown.status, 404);
  t.regex(unknown.text, /no node 52:54:00:00:00:99 has booted/);
  const nosite = await app.call('/api/sites/nosuch/scale', json({ minReplicas: 2 }));
  t.is(nosite.status, 404);
  t.regex(nosite.text, /no site nosuch/);
  t.deepEqual(app.cluster.current.sites['shop']?.pinned, []);
});

test('site deploy packs a folder deterministically, and refuses symlinks naming them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-site-'));
  await mkdir(join(dir, 'css'));
  await writeFile(join(dir, 'index.html'), 'hello');
  await writeFile(join(dir, 'css', 'a.css'), 'body{}');
  const a = await packSiteDir(dir);
  const b = await packSiteDir(dir);
  t.deepEqual(a, b, 'the same folder gives the same tar, so the same content version');
  t.like(await checkContentTar(a), { files: 2 });
  await symlink('/etc/passwd', join(dir, 'leak'));
  await t.throwsAsync(packSiteDir(dir), { message: /leak is a symlink: site content takes files and folders only/ });
});
