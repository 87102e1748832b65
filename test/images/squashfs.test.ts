import test from 'ava';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listSquashfs, makeSquashfs } from '../../src/images/squashfs.js';

async function tree(root: string, stamp: number): Promise<void> {
  await mkdir(join(root, 'etc/init.d'), { recursive: true });
  await writeFile(join(root, 'etc/init.d/rcS'), '#!/bin/sh\n');
  await chmod(join(root, 'etc/init.d/rcS'), 0o755);
  await writeFile(join(root, 'etc/hostname'), 'n1\n');
  await symlink('etc/hostname', join(root, 'link'));
  await utimes(join(root, 'etc/hostname'), stamp, stamp);
}

test('same tree, same bytes, whatever the files\' times; fixed times and root owners inside', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-sqfs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await tree(join(dir, 'a'), 1_000_000);
  await tree(join(dir, 'b'), 2_000_000);
  const a = await makeSquashfs(join(dir, 'a'), join(dir, 'a.sqfs'), { time: 1_700_000_000, allRoot: true });
  await makeSquashfs(join(dir, 'b'), join(dir, 'b.sqfs'), { time: 1_700_000_000, allRoot: true });
  t.true(a.bytes > 0);
  t.true((await readFile(join(dir, 'a.sqfs'))).equals(await readFile(join(dir, 'b.sqfs'))));
  t.deepEqual(await listSquashfs(join(dir, 'a.sqfs')), ['etc/hostname', 'etc/init.d/rcS', 'link']);
  const long = String((await execa('unsquashfs', ['-lln', join(dir, 'a.sqfs')], { env: { TZ: 'UTC' } })).stdout);
  t.regex(long, /-rwxr-xr-x 0\/0 .* 2023-11-14 \d\d:\d\d squashfs-root\/etc\/init\.d\/rcS/);
  t.notRegex(long, /1970/);
});

test('SOURCE_DATE_EPOCH in the environment does not break mksquashfs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-sqfs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await tree(join(dir, 'a'), 1);
  const before = process.env['SOURCE_DATE_EPOCH'];
  process.env['SOURCE_DATE_EPOCH'] = '1234';
  try {
    t.true((await makeSquashfs(join(dir, 'a'), join(dir, 'a.sqfs'))).bytes > 0);
  } finally {
    if (before === undefined) delete process.env['SOURCE_DATE_EPOCH'];
    else process.env['SOURCE_DATE_EPOCH'] = before;
  }
  t.regex(String((await execa('unsquashfs', ['-lln', join(dir, 'a.sqfs')], { env: { TZ: 'UTC' } })).stdout), /1970-01-01 00:20 squashfs-root\/link/);
});
