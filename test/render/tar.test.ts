import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, writeFile, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packTar } from '../../src/render/tar.js';

test('packTar writes a tar that GNU tar extracts with modes, dirs and safe symlinks', async (t) => {
  const tar = await packTar([
    { path: 'srv/www/index.html', mode: 0o644, type: 'file', data: Buffer.from('<h1>web1</h1>') },
    { path: 'srv', mode: 0o755, type: 'dir' },
    { path: 'srv/www', mode: 0o755, type: 'dir' },
    { path: 'etc/bootfleet/start.d/10-httpd', mode: 0o755, type: 'file', data: Buffer.from('#!/bin/sh\n') },
    { path: 'srv/www/home.html', mode: 0o777, type: 'symlink', target: 'index.html' },
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'bf-tar-'));
  await writeFile(join(dir, 'o.tar'), tar);
  await execa('tar', ['-xf', 'o.tar', '-C', dir], { cwd: dir });
  t.is(await readFile(join(dir, 'srv/www/index.html'), 'utf8'), '<h1>web1</h1>');
  t.is(await readlink(join(dir, 'srv/www/home.html')), 'index.html');
  const listing = (await execa('tar', ['-tvf', join(dir, 'o.tar')])).stdout;
  t.regex(listing, /^-rwxr-xr-x root\/root .* etc\/bootfleet\/start\.d\/10-httpd$/m);
  t.deepEqual(await packTar([{ path: 'a', mode: 0o644, type: 'file', data: Buffer.from('x') }]), await packTar([{ path: 'a', mode: 0o644, type: 'file', data: Buffer.from('x') }]), 'deterministic');
});

test('packTar refuses entries an extractor must never see', async (t) => {
  const bad = [
    { path: '../etc/passwd', mode: 0o644, type: 'file' as const },
    { path: '/etc/passwd', mode: 0o644, type: 'file' as const },
    { path: 'a/../../b', mode: 0o644, type: 'file' as const },
    { path: 'srv/link', mode: 0o777, type: 'symlink' as const, target: '/etc/shadow' },
    { path: 'srv/link', mode: 0o777, type: 'symlink' as const, target: '../../etc/shadow' },
  ];
  for (const entry of bad) await t.throwsAsync(packTar([entry]), undefined, JSON.stringify(entry));
});
