import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BalancerModel, BalancerServer, BalancerSite } from '../../src/balancer/model.js';
import { ManagedHaproxy, type ManagedHaproxyOptions } from '../../src/balancer/haproxy/process.js';
import { isAlive } from '../../src/balancer/haproxy/pids.js';
import type { Backend, BackendOptions } from './backend.js';

// Debian installs the balancers in /usr/sbin, which is not on an ordinary user's PATH.
for (const dir of ['/usr/sbin', '/sbin']) {
  if (!(process.env['PATH'] ?? '').split(':').includes(dir)) process.env['PATH'] = `${process.env['PATH'] ?? ''}:${dir}`;
}

/** Fails (never skips) when a tool is missing, naming the Debian package to install. */
export async function requireTool(command: string, pkg: string): Promise<void> {
  const r = await execa('sh', ['-c', `command -v ${command}`], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${command} is missing: apt-get install -y ${pkg} (scripts/setup-debian.sh installs it)`);
}

/** A port nothing listens on right now (bound to 0, then released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A short temp dir (unix socket paths are limited to 107 bytes), removed after the test. */
export async function tempDir(t: ExecutionContext, prefix = 'bfb-'): Promise<string> {
  const dir = await mkdtemp(`/tmp/${prefix}`);
  t.teardown(async () => {
    if (t.passed) await rm(dir, { recursive: true, force: true });
    else t.log(`kept ${dir}`);
  });
  return dir;
}

export function nodeId(i: number): string {
  return `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
}

export function server(i: number, port: number, admin: BalancerServer['admin'] = 'ready'): BalancerServer {
  return { node: nodeId(i), address: '127.0.0.1', port, admin };
}

export function site(id: string, domains: string[], servers: BalancerServer[], extra: Partial<BalancerSite> = {}): BalancerSite {
  return { id, domains, servers, check: { path: '/health', status: 200 }, ...extra };
}

export function model(stateDir: string, port: number, sites: BalancerSite[], generation = 1): BalancerModel {
  return { listen: [{ address: '127.0.0.1', port }], sites, generation, paths: { stateDir } };
}

/** Starts a managed HAProxy; teardown stops it and checks that no process of it is left. */
export async function startHaproxy(t: ExecutionContext, m: BalancerModel, opts: ManagedHaproxyOptions = {}): Promise<ManagedHaproxy> {
  await requireTool('haproxy', 'haproxy');
  const h = new ManagedHaproxy(m.paths.stateDir, opts);
  t.teardown(async () => {
    const pids = h.running ? await h.pids().catch(() => [h.pid ?? 0]) : [];
    await h.stop(1000);
    const left = pids.filter(isAlive);
    if (left.length > 0) throw new Error(`haproxy pids still alive after stop: ${left.join(' ')}`);
  });
  await h.start(m);
  return h;
}

export interface Reply {
  status: number;
  body: string;
  node: string | undefined;
  cookie: string | undefined;
}

/** One HTTP GET through the balancer with the given Host (and cookie). */
export function get(port: number, host: string, path = '/', opts: { agent?: Agent; cookie?: string; timeoutMs?: number; method?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...(opts.cookie ? { cookie: opts.cookie } : {}) }, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const node = res.headers['x-node'];
        const cookie = res.headers['set-cookie']?.[0]?.split(';')[0];
        resolve({ status: res.statusCode ?? 0, body, node: typeof node === 'string' ? node : undefined, cookie });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 20_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Clients requesting continuously through the balancer until stop(): `workers` loops, each on
 * its own keep-alive connection or a new connection per request. Any error or status other
 * than 200 is a failure.
 */
export class ClientLoop {
  ok = 0;
  readonly failures: string[] = [];
  readonly byNode = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(port: number, host: string, opts: { workers?: number; keepAlive?: boolean; gapMs?: number } = {}) {
    this.loops = Array.from({ length: opts.workers ?? 2 }, async () => {
      const agent = opts.keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
      while (this.running) {
        try {
          const r = await get(port, host, '/', agent ? { agent } : {});
          if (r.status === 200) {
            this.ok++;
            if (r.node) this.byNode.set(r.node, (this.byNode.get(r.node) ?? 0) + 1);
          } else this.failures.push(`status ${r.status}: ${r.body.trim()}`);
        } catch (err) {
          this.failures.push((err as Error).message);
        }
        if (opts.gapMs) await sleep(opts.gapMs);
      }
      agent?.destroy();
    });
  }

  async stop(): Promise<{ ok: number; failures: string[] }> {
    this.running = false;
    await Promise.all(this.loops);
    return { ok: this.ok, failures: this.failures };
  }
}

/**
 * Keep-alive clients that behave like Python's http.client, curl loops or a pooling proxy: the
 * next request goes out on the kept connection without first noticing that the server may have
 * closed it meanwhile (Node's own Agent drops closed sockets first, which hides the problem).
 * A connection is only given up after a response says `Connection: close` or after an error.
 */
export class NaiveKeepAliveLoop {
  ok = 0;
  readonly failures: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(port: number, host: string, opts: { workers?: number; gapMs?: number } = {}) {
    this.loops = Array.from({ length: opts.workers ?? 2 }, async () => {
      let sock: Socket | undefined;
      while (this.running) {
        try {
          sock ??= await connectSocket(port);
          const { status, close } = await exchange(sock, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
          if (status === 200) this.ok++;
          else this.failures.push(`status ${status}`);
          if (close) {
            sock.destroy();
            sock = undefined;
          }
        } catch (err) {
          this.failures.push((err as Error).message);
          sock?.destroy();
          sock = undefined;
        }
        await sleep(opts.gapMs ?? 20);
      }
      sock?.destroy();
    });
  }

  async stop(): Promise<{ ok: number; failures: string[] }> {
    this.running = false;
    await Promise.all(this.loops);
    return { ok: this.ok, failures: this.failures };
  }
}

function connectSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: a FIN from the server does not end our side, as with a plain BSD socket.
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes one request and reads one Content-Length response from a kept connection. */
function exchange(sock: Socket, req: string): Promise<{ status: number; close: boolean }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err?: Error, v?: { status: number; close: boolean }): void => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      clearTimeout(timer);
      if (err) reject(err);
      else if (v) resolve(v);
    };
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      done(undefined, { status: Number(head.split(' ')[1]), close: /^connection:\s*close/im.test(head) });
    };
    const onEnd = (): void => done(new Error('connection closed without a response'));
    const onError = (err: Error): void => done(err);
    const timer = setTimeout(() => done(new Error('no response within 20 s')), 20_000);
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', onError);
    sock.write(req);
  });
}

/** Polls `fn` until it returns something truthy; rejects after `timeoutMs` naming `what`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, pollMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(pollMs);
  }
}

/** The `show stat` status of one server ("UP", "DOWN", "DRAIN", "MAINT", "UP 1/2" …). */
export async function statusOf(h: ManagedHaproxy, backend: string, srv: string): Promise<string | undefined> {
  return (await h.runtime.showStat()).find((r) => r.pxname === backend && r.svname === srv)?.status;
}

const FIXTURE = fileURLToPath(new URL('./fixtures/backend.ts', import.meta.url));

/** A backend in its own process (optionally wrapped, e.g. into a namespace); killed at teardown. */
export async function processBackend(t: ExecutionContext, opts: BackendOptions, wrap?: (f: string, a: string[]) => [string, string[]]): Promise<{ port: number; child: ChildProcess }> {
  const args = ['--import', 'tsx/esm', FIXTURE, JSON.stringify(opts)];
  const [file, argv] = wrap ? wrap(process.execPath, args) : [process.execPath, args];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`backend ${opts.name} exited (${code}) before ready`)));
  });
  return { port, child };
}

export type { Backend };
