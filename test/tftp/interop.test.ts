/**
 * Real clients against our server on loopback: atftp, tftp-hpa's tftp and curl. A missing tool
 * fails its tests (never skips them), naming the package to install.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileSystemHandler } from '../../src/tftp/fs-handler.js';
import { HOST, startServer } from './helpers.js';

const run = promisify(execFile);
const ATFTP = '/usr/bin/atftp';
const TFTP_HPA = '/usr/bin/tftp';
const CURL = '/usr/bin/curl';

interface Served {
  port: number;
  dir: string;
  data: Buffer;
  stats: () => { completed: number };
  /** Options of each RRQ as the server received them. */
  requested: () => Array<Record<string, string>>;
}

/** A temp dir with `kernel.img` (~3 MB, not a multiple of common block sizes) served on a free port. */
async function serve(t: ExecutionContext, data = randomBytes(3 * 1024 * 1024 + 123)): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-tftp-interop-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'kernel.img'), data);
  const { port, server, events } = await startServer(t, fileSystemHandler(dir));
  const requested = (): Array<Record<string, string>> => events.flatMap((e) => (e.type === 'rrq' ? [e.options] : []));
  return { port, dir, data, stats: () => server.stats, requested };
}

function tool(path: string): boolean {
  return existsSync(path);
}

async function same(t: ExecutionContext, s: Served, out: string): Promise<void> {
  const got = await readFile(out);
  t.is(got.length, s.data.length);
  t.true(got.equals(s.data), 'downloaded bytes are identical');
}

const atftpCases: Array<[string, string[]]> = [
  ['no options', ['--option', 'tsize disable', '--option', 'blksize disable']],
  ['blksize 1468', ['--option', 'blksize 1468']],
  ['blksize 1468 and windowsize 8', ['--option', 'blksize 1468', '--option', 'windowsize 8']],
  ['blksize 1024 and tsize (like a Pi 4)', ['--option', 'blksize 1024', '--option', 'tsize enable']],
];
for (const [name, args] of atftpCases) {
  const title = `atftp downloads identical bytes with ${name}`;
  test(title, async (t) => {
    if (!tool(ATFTP)) return t.fail('atftp is not installed: run scripts/setup-debian.sh');
    const s = await serve(t);
    const out = join(s.dir, 'out.img');
    await run(ATFTP, [...args, '-g', '-r', 'kernel.img', '-l', out, HOST, String(s.port)], { timeout: 60_000 });
    await same(t, s, out);
    t.is(s.stats().completed, 1);
    // Make sure the option under test really reached the server (atftp ≥ 0.8 sends windowsize).
    for (const a of args) {
      const [opt, value] = a.split(' ');
      if (opt && value && /^\d+$/.test(value)) t.is(s.requested()[0]?.[opt], value, opt);
    }
  });
}

{
  test('tftp-hpa downloads identical bytes in binary mode', async (t) => {
    if (!tool(TFTP_HPA)) return t.fail('tftp-hpa is not installed: run scripts/setup-debian.sh');
    const s = await serve(t);
    const out = join(s.dir, 'out.img');
    await run(TFTP_HPA, ['-m', 'binary', HOST, String(s.port), '-c', 'get', 'kernel.img', out], { timeout: 60_000 });
    await same(t, s, out);
  });

  test('tftp-hpa in ascii mode gets the text back unchanged (netascii round trip)', async (t) => {
    if (!tool(TFTP_HPA)) return t.fail('tftp-hpa is not installed: run scripts/setup-debian.sh');
    const s = await serve(t, Buffer.from('console=serial0 root=/dev/ram0\nline2\n'));
    const out = join(s.dir, 'out.txt');
    await run(TFTP_HPA, ['-m', 'ascii', HOST, String(s.port), '-c', 'get', 'kernel.img', out], { timeout: 60_000 });
    await same(t, s, out);
  });
}

// Decided synchronously: ava wants every test declared before the first await.
const curlHasTftp = tool(CURL) && spawnSync(CURL, ['--version'], { encoding: 'utf8' }).stdout.includes('tftp');
for (const blksize of [512, 1468]) {
  const title = `curl downloads identical bytes with --tftp-blksize ${blksize}`;
  test(title, async (t) => {
    if (!curlHasTftp) return t.fail('curl with TFTP support is not installed: run scripts/setup-debian.sh');
    const s = await serve(t);
    const out = join(s.dir, 'out.img');
    await run(CURL, ['-sS', '--tftp-blksize', String(blksize), '-o', out, `tftp://${HOST}:${s.port}/kernel.img`], { timeout: 60_000 });
    await same(t, s, out);
  });
}
