import test from 'ava';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TftpCache } from '../../src/tftp/cache.js';
import { fileSystemHandler, safeRelative } from '../../src/tftp/fs-handler.js';
import { TftpErrorCode } from '../../src/tftp/packet.js';
import { TftpAccessDenied } from '../../src/tftp/types.js';
import { TestClient, download, startServer } from './helpers.js';

/** root/ok.txt, root/sub/ok.txt, root/inside -> ok.txt, root/escape -> <outside>/secret, root/dirlink -> <outside> */
async function fixture(t: import('ava').ExecutionContext): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'bf-tftp-fs-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'ok.txt'), 'root ok\n');
  await writeFile(join(root, 'sub', 'ok.txt'), 'sub ok\n');
  await writeFile(join(outside, 'secret'), 'secret\n');
  await symlink('ok.txt', join(root, 'inside'));
  await symlink(join(outside, 'secret'), join(root, 'escape'));
  await symlink(outside, join(root, 'dirlink'));
  return root;
}

async function text(handler: ReturnType<typeof fileSystemHandler>, path: string): Promise<string | undefined> {
  const f = await handler(path, { address: '127.0.0.1', port: 1 });
  return f ? Buffer.from(await f.read(0, f.size)).toString() : undefined;
}

const served: Array<[string, string]> = [
  ['ok.txt', 'root ok\n'],
  ['/ok.txt', 'root ok\n'],
  ['sub/ok.txt', 'sub ok\n'],
  ['/sub/ok.txt', 'sub ok\n'],
  ['sub//ok.txt', 'sub ok\n'],
  ['./sub/./ok.txt', 'sub ok\n'],
  ['inside', 'root ok\n'],
];
for (const [path, want] of served) {
  test(`the file system handler serves ${JSON.stringify(path)}`, async (t) => {
    t.is(await text(fileSystemHandler(await fixture(t)), path), want);
  });
}

const refused = ['../etc/passwd', '/../../etc/passwd', 'a/../../x', 'sub/../ok.txt', '//etc/passwd', '..\\..\\x', 'sub\\ok.txt', 'ok.txt\0.png', 'escape', 'dirlink/secret', '/', ''];
for (const path of refused) {
  test(`the file system handler refuses ${JSON.stringify(path)}`, async (t) => {
    await t.throwsAsync(fileSystemHandler(await fixture(t))(path, { address: '127.0.0.1', port: 1 }), { instanceOf: TftpAccessDenied });
  });
}

test('an absolute host path is looked up below the root, so /etc/passwd is not found', async (t) => {
  t.is(await text(fileSystemHandler(await fixture(t)), '/etc/passwd'), undefined);
});

test('a missing file and a directory are not found', async (t) => {
  const h = fileSystemHandler(await fixture(t));
  t.is(await text(h, 'nope.bin'), undefined);
  t.is(await text(h, 'sub'), undefined);
  t.is(await text(h, 'ok.txt/x'), undefined);
});

test('a changed file is served fresh, an unchanged one from the cache', async (t) => {
  const root = await fixture(t);
  const h = fileSystemHandler(root);
  const f1 = await h('ok.txt', { address: '127.0.0.1', port: 1 });
  const f2 = await h('ok.txt', { address: '127.0.0.1', port: 1 });
  t.is(f1 && (await f1.read(0, f1.size)).buffer, f2 && (await f2.read(0, f2.size)).buffer, 'same cached bytes');
  await writeFile(join(root, 'ok.txt'), 'changed!\n');
  await utimes(join(root, 'ok.txt'), new Date(), new Date(Date.now() + 5000));
  t.is(await text(h, 'ok.txt'), 'changed!\n');
});

test('handlers given one TftpCache share its budget: the least recently used file goes first, whichever handler read it', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'bf-tftp-shared-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  for (const dir of ['a', 'b']) {
    await mkdir(join(base, dir));
    for (const name of ['1', '2']) await writeFile(join(base, dir, name), Buffer.alloc(1000, `${dir}${name}`));
  }
  const cache = new TftpCache(2500);
  const a = fileSystemHandler(join(base, 'a'), { cache });
  const b = fileSystemHandler(join(base, 'b'), { cache });
  const client = { address: '127.0.0.1', port: 1 };
  const a1 = await a('1', client);
  const a2 = await a('2', client);
  await a('1', client); // a/2 is now the least recently used
  const b1 = await b('1', client);
  t.is(cache.bytes, 2000, 'one budget for both handlers');
  t.deepEqual([a1, a2, b1].map((f) => f?.id !== undefined && cache.has(f.id)), [true, false, true]);
  const again = await a('2', client);
  t.deepEqual(again && Buffer.from(await again.read(0, again.size)), Buffer.alloc(1000, 'a2'), 'an evicted file is read again');
  t.true(cache.bytes <= 2500);
});

test('a file larger than the whole budget is served but not cached', async (t) => {
  const root = await fixture(t);
  await writeFile(join(root, 'big.bin'), Buffer.alloc(5000, 9));
  const cache = new TftpCache(4096);
  const f = await fileSystemHandler(root, { cache })('big.bin', { address: '127.0.0.1', port: 1 });
  t.is(f?.size, 5000);
  t.is(cache.size, 0);
});

test('a changed file gets a new id, so nothing derived from the old bytes is reused', async (t) => {
  const root = await fixture(t);
  const h = fileSystemHandler(root, { cache: new TftpCache(1 << 20) });
  const before = await h('ok.txt', { address: '127.0.0.1', port: 1 });
  await writeFile(join(root, 'ok.txt'), 'changed!\n');
  await utimes(join(root, 'ok.txt'), new Date(), new Date(Date.now() + 5000));
  const after = await h('ok.txt', { address: '127.0.0.1', port: 1 });
  t.truthy(before?.id);
  t.not(after?.id, before?.id);
});

test('safeRelative strips one leading slash and normalises . and empty segments', (t) => {
  t.is(safeRelative('/a/./b//c'), 'a/b/c');
  t.throws(() => safeRelative('//a'), { instanceOf: TftpAccessDenied });
});

test('through the server: traversal gets error 2, /ok.txt and sub/ok.txt are served', async (t) => {
  const { port } = await startServer(t, fileSystemHandler(await fixture(t)));
  const client = await TestClient.open(t);
  for (const path of ['../etc/passwd', '/../../etc/passwd', 'a/../../x', 'escape']) {
    client.send({ op: 'rrq', filename: path, mode: 'octet', options: new Map() }, port);
    t.like((await client.expect()).packet, { op: 'error', code: TftpErrorCode.AccessViolation }, path);
  }
  client.send({ op: 'rrq', filename: '/etc/passwd', mode: 'octet', options: new Map() }, port);
  t.like((await client.expect()).packet, { op: 'error', code: TftpErrorCode.FileNotFound });
  t.is((await download(client, port, '/ok.txt')).data.toString(), 'root ok\n');
  t.is((await download(client, port, 'sub/ok.txt')).data.toString(), 'sub ok\n');
});
