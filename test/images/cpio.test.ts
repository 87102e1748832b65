import test from 'ava';
import { execa } from 'execa';
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildCpio, type CpioEntry } from '../../src/images/cpio.js';
import { entriesFromDir } from '../../src/images/cpio-fs.js';

const big = Buffer.alloc(70_001, 7);

function sample(bigSource: string): CpioEntry[] {
  // Deliberately unsorted and missing the "etc" and "usr/share" parents.
  return [
    { type: 'file', path: '/init', mode: 0o755, data: '#!/bin/sh\necho hi\n' },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'dir', path: 'bin', mode: 0o700 },
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: Buffer.from([0, 1, 2, 3, 4]) },
    { type: 'file', path: 'etc/empty', data: '' },
    { type: 'file', path: 'usr/share/odd', data: 'abc' },
    { type: 'file', path: 'usr/big', source: bigSource, size: big.length },
    { type: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
  ];
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-cpio-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('real cpio extracts our archive with the same files, modes and symlinks, and reads the device node\'s type and numbers', async (t) => {
  const dir = await tempDir(t);
  const bigSource = join(dir, 'big.bin');
  await writeFile(bigSource, big);
  const archive = await buildCpio(sample(bigSource));
  const out = join(dir, 'out');
  await execa('mkdir', ['-p', out]);
  // Creating the device node needs root (mknod), so it is read from the listing instead.
  await execa('cpio', ['-idm', '--quiet', '--no-absolute-filenames', '--nonmatching', 'dev/console'], { cwd: out, input: archive });

  t.is(await readFile(join(out, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
  t.is((await lstat(join(out, 'init'))).mode & 0o7777, 0o755);
  t.is((await lstat(join(out, 'bin'))).mode & 0o7777, 0o700);
  t.deepEqual(await readFile(join(out, 'bin/busybox')), Buffer.from([0, 1, 2, 3, 4]));
  t.is(await readlink(join(out, 'bin/sh')), 'busybox');
  t.is((await readFile(join(out, 'etc/empty'))).length, 0);
  t.is(await readFile(join(out, 'usr/share/odd'), 'utf8'), 'abc');
  t.deepEqual(await readFile(join(out, 'usr/big')), big);
  const listing = String((await execa('cpio', ['-itv', '--numeric-uid-gid'], { input: archive })).stdout);
  t.regex(listing, /^crw------- +1 0 +0 +5, +1 .* dev\/console$/m, 'a character device 5,1, mode 0600, owned by root');
  t.is((await lstat(join(out, 'usr/big'))).mtimeMs, Number(process.env['SOURCE_DATE_EPOCH'] ?? 0) * 1000, 'mtime is SOURCE_DATE_EPOCH or 0');
});

test('cpio -t lists entries sorted, parents first, ending without errors', async (t) => {
  const dir = await tempDir(t);
  const bigSource = join(dir, 'big.bin');
  await writeFile(bigSource, big);
  const archive = await buildCpio(sample(bigSource));
  t.is(archive.length % 512, 0);
  const { stdout, stderr } = await execa('cpio', ['-t'], { input: archive });
  t.deepEqual(stdout.split('\n'), [
    'bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'etc', 'etc/empty', 'init', 'usr', 'usr/big', 'usr/share', 'usr/share/odd',
  ]);
  t.regex(stderr, /^\d+ blocks$/m);
});

test('two builds of the same entries are byte-identical, gzipped or not', async (t) => {
  const dir = await tempDir(t);
  const bigSource = join(dir, 'big.bin');
  await writeFile(bigSource, big);
  t.deepEqual(await buildCpio(sample(bigSource)), await buildCpio([...sample(bigSource)].reverse()));
  const gz1 = await buildCpio(sample(bigSource), { gzip: true });
  const gz2 = await buildCpio(sample(bigSource), { gzip: true });
  t.deepEqual(gz1, gz2);
  t.deepEqual(gunzipSync(gz1), await buildCpio(sample(bigSource)));
});

test('mtime option is written into every entry', async (t) => {
  const archive = await buildCpio([{ type: 'file', path: 'a', data: 'x' }], { mtime: 1_700_000_000 });
  const { stdout } = await execa('cpio', ['-tv'], { input: archive, env: { TZ: 'UTC' } });
  t.regex(stdout, /Nov 14\s+2023/);
});

test('duplicate paths and escaping paths are rejected', async (t) => {
  await t.throwsAsync(buildCpio([{ type: 'dir', path: 'a' }, { type: 'dir', path: '/a/' }]), { message: /duplicate entry a/ });
  await t.throwsAsync(buildCpio([{ type: 'dir', path: '../etc' }]), { message: /bad entry path/ });
});

test('entriesFromDir round-trips a real tree through real cpio', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  await execa('sh', ['-c', `mkdir -p ${src}/a/b && echo one > ${src}/a/b/f && chmod 751 ${src}/a/b/f && ln -s b/f ${src}/a/l`]);
  const archive = await buildCpio(await entriesFromDir(src, 'root'));
  const out = join(dir, 'out');
  await execa('mkdir', ['-p', out]);
  await execa('cpio', ['-idm', '--quiet'], { cwd: out, input: archive });
  t.is(await readFile(join(out, 'root/a/b/f'), 'utf8'), 'one\n');
  t.is((await lstat(join(out, 'root/a/b/f'))).mode & 0o7777, 0o751);
  t.is(await readlink(join(out, 'root/a/l')), 'b/f');
});
