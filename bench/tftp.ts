/**
 * TFTP throughput, ours vs tftpd-hpa, side by side on loopback: `npm run bench -- tftp`.
 *
 * One 8 MiB random file is served by both servers (each its own process) and fetched with the
 * atftp client at blksize 1468 (lock-step, as Pi firmware does), RUNS times each, interleaved.
 * Prints a table of medians and, last, `tftp_ratio_vs_tftpd_hpa: X` (our median time over theirs,
 * so ≤ 1.00 means we are at least as fast). Env: TFTP_BENCH_RUNS (default 15), TFTP_BENCH_MIB (8),
 * TFTP_BENCH_NATIVE=0 to serve from the pure-JS path instead of the native fast path (for comparison).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tftpNative } from '../src/tftp/socket.js';

const HOST = '127.0.0.1';
const FILE = 'bench.bin';

export async function main(): Promise<void> {
  const runs = Number(process.env['TFTP_BENCH_RUNS'] ?? 15);
  const mib = Number(process.env['TFTP_BENCH_MIB'] ?? 8);
  const path = process.env['TFTP_BENCH_NATIVE'] === '0' ? 'JS path (TFTP_BENCH_NATIVE=0)' : tftpNative() ? 'native fast path' : 'JS path (addon not built)';
  const dir = await mkdtemp(join(tmpdir(), 'bf-tftp-bench-'));
  const children: ChildProcess[] = [];
  try {
    // tftpd-hpa drops to user nobody and chroots: the tree must be world-readable.
    await chmod(dir, 0o755);
    const content = randomBytes(mib * 1024 * 1024);
    await writeFile(join(dir, FILE), content, { mode: 0o644 });
    const want = sha256(content);

    const ourPort = await freeUdpPort();
    const hpaPort = await freeUdpPort();
    children.push(spawn(process.execPath, ['--import', 'tsx/esm', fileURLToPath(import.meta.url), '--serve', dir, String(ourPort)], { stdio: ['ignore', 'ignore', 'inherit'] }));
    children.push(spawn('/usr/sbin/in.tftpd', ['-L', '--address', `${HOST}:${hpaPort}`, '-s', dir], { stdio: ['ignore', 'ignore', 'inherit'] }));
    await Promise.all([waitForTftp(ourPort), waitForTftp(hpaPort)]);

    const servers = [
      { name: 'bootfleet', port: ourPort, times: [] as number[] },
      { name: 'tftpd-hpa', port: hpaPort, times: [] as number[] },
    ];
    for (let i = 0; i < runs; i++) {
      // Alternate who goes first so neither always runs on a warmer cache.
      const order = i % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        const out = join(dir, `out-${s.name}-${i}.bin`);
        const t0 = performance.now();
        await promisify(execFile)('atftp', ['--option', 'blksize 1468', '-g', '-r', FILE, '-l', out, HOST, String(s.port)]);
        s.times.push((performance.now() - t0) / 1000);
        const got = sha256(await readFile(out));
        if (got !== want) throw new Error(`${s.name} run ${i}: downloaded bytes differ (sha256 ${got})`);
        await rm(out);
      }
    }

    const [ours, theirs] = servers.map((s) => ({ ...s, median: median(s.times) }));
    if (!ours || !theirs) throw new Error('unreachable');
    console.log(`file: ${mib} MiB, atftp blksize 1468, ${runs} interleaved runs each, loopback; bootfleet: ${path}`);
    console.log('server      median_s   MB/s    min_s    max_s');
    for (const s of [ours, theirs]) {
      const mbps = (mib * 1.048576) / s.median;
      console.log(`${s.name.padEnd(10)}  ${s.median.toFixed(3).padStart(8)}  ${mbps.toFixed(1).padStart(5)}  ${Math.min(...s.times).toFixed(3).padStart(7)}  ${Math.max(...s.times).toFixed(3).padStart(7)}`);
    }
    console.log(`tftp_ratio_vs_tftpd_hpa: ${(ours.median / theirs.median).toFixed(2)}`);
  } finally {
    // Only the two servers this run started (tftpd-hpa's per-transfer children have exited).
    await Promise.all(children.map((c) => stopChild(c)));
    await rm(dir, { recursive: true, force: true });
  }
}

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  });
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Sends an RRQ for a missing file until any reply arrives (the server is up), for up to 10 s. */
async function waitForTftp(port: number): Promise<void> {
  const rrq = Buffer.from('\0\x01no-such-file\0octet\0', 'latin1');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      const timer = setTimeout(() => done(false), 200);
      const done = (v: boolean): void => {
        clearTimeout(timer);
        s.close();
        resolve(v);
      };
      s.on('message', () => done(true));
      s.on('error', () => done(false));
      s.send(rrq, port, HOST);
    });
    if (ok) return;
  }
  throw new Error(`no TFTP server answered on ${HOST}:${port}`);
}

/** Child-process mode: our server on HOST:port serving `dir` (so both servers are one process each). */
async function serve(dir: string, port: number): Promise<void> {
  const [{ createTftpServer }, { fileSystemHandler }, { silentLogger }] = await Promise.all([
    import('../src/tftp/server.js'),
    import('../src/tftp/fs-handler.js'),
    import('../src/log.js'),
  ]);
  const nativeFastPath = process.env['TFTP_BENCH_NATIVE'] !== '0';
  const server = createTftpServer({ address: HOST, port, handler: fileSystemHandler(dir), log: silentLogger(), nativeFastPath });
  await server.start();
  process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
}

if (process.argv[2] === '--serve') await serve(process.argv[3] ?? '.', Number(process.argv[4]));
