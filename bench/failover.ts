/**
 * Failover: `npm run bench -- failover` (as root). A lab cluster of three tiny-web nodes behind
 * the controller's managed HAProxy serves one site with two replicas while a client loop sends
 * requests through the balancer; one serving node's QEMU is killed (a silent host: no RST, its
 * address simply stops answering). Measured, per round:
 * - failover_detect_s: from the kill until HAProxy no longer routes to that node (its server in
 *   the site's backend leaves UP: DOWN, read from HAProxy's stats socket every 50 ms). HAProxy's
 *   defaults (inter 2 s, fall 3, no timeout check) take ~11 s for a silent host and 4.9 s for a
 *   refused port (docs/balancer.md); bootfleet's settings aim under 2 s.
 * - replaced_s: until the controller has placed the site on another node and it serves there.
 * - failed requests seen by the client during it.
 * Last line: `failover_failed_requests: N` (bar N = 0). Env: FAILOVER_BENCH_ROUNDS (default 3).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../src/lab/lab.js';
import { nodeScript, startLabController, type LabController } from '../src/lab/lab-controller.js';
import { imageBuildCommand } from '../src/commands/image.js';
import { HaproxyRuntime } from '../src/balancer/haproxy/runtime.js';
import { backendName, serverName } from '../src/balancer/names.js';
import { packageRoot } from '../src/pkg.js';
import type { SiteView } from '../src/http/sites.js';
import type { NodeView } from '../src/http/api.js';

interface Round { detect: number; replaced: number; failed: number; ok: number }

export async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the failover benchmark makes namespaces and taps: run it as root');
  const rounds = Number(process.env['FAILOVER_BENCH_ROUNDS'] ?? 3);
  const results: Round[] = [];
  for (let i = 0; i < rounds; i++) results.push(await round(i + 1));
  console.log('\nfailover: one of the two nodes serving a site is killed (QEMU ends) under a client loop');
  console.log('round  detect_s  replaced_s  requests  failed');
  results.forEach((r, i) => console.log(`${String(i + 1).padEnd(5)}  ${r.detect.toFixed(2).padStart(8)}  ${r.replaced.toFixed(1).padStart(10)}  ${String(r.ok + r.failed).padStart(8)}  ${String(r.failed).padStart(6)}`));
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  console.log(`failover_detect_s: ${median(results.map((r) => r.detect)).toFixed(2)}`);
  console.log(`failover_failed_requests: ${results.reduce((n, r) => n + r.failed, 0)}`);
}

async function round(n: number): Promise<Round> {
  const lab = await Lab.create();
  try {
    const store = join(lab.logDir, 'store');
    await imageBuildCommand({ recipe: join(packageRoot(), 'images', 'tiny-web.yaml'), arch: 'amd64', store }, () => undefined);
    const ctl = await startLabController(lab, {
      config: {
        images: { store, default: 'tiny-web' },
        cluster: { heartbeatSeconds: 1, downAfterSeconds: 4 },
        balancer: { listen: [`${lab.address}:80`] },
      },
    });
    const client = await lab.addHost('client', '198.18.0.250/24');
    const nodes = await Promise.all([1, 2, 3].map(() => lab.addNode({ arch: 'x86_64', memoryMiB: 256 })));
    await until('three nodes ready', async () => (await list<NodeView>(ctl, 'node')).filter((x) => x.state === 'ready').length === 3);
    const site = join(lab.logDir, 'site');
    await mkdir(site, { recursive: true });
    await writeFile(join(site, 'index.html'), 'failover site\n');
    await ctl.cli('site', 'add', 'fo', '--domain', 'fo.example', '--min-replicas', '2', '--content', site);
    const runtime = new HaproxyRuntime(join(ctl.stateDir, 'balancer', 'haproxy.sock'));
    const up = async (mac: string): Promise<boolean> => {
      const row = (await runtime.showStat().catch(() => [])).find((r) => r.pxname === backendName('fo') && r.svname === serverName(mac));
      return row?.status === 'UP';
    };
    let serving: string[] = [];
    await until('the site is served by two nodes', async () => {
      serving = (await list<SiteView>(ctl, 'site')).find((s) => s.name === 'fo')?.nodes ?? [];
      return serving.length === 2 && (await Promise.all(serving.map(up))).every(Boolean);
    });
    const [node = process.execPath, ...argv] = nodeScript('lab/load-client');
    const loop = lab.spawn(node, [...argv, JSON.stringify({ url: `http://${lab.address}/`, hosts: ['fo.example'], expect: { 'fo.example': 'failover site' }, concurrency: 4, pauseMs: 10 })], { name: `load-${n}`, netns: client, cwd: packageRoot() });
    await new Promise((r) => setTimeout(r, 3000));
    const victim = nodes.find((x) => x.mac === serving[0]);
    const dead = victim?.mac ?? '';
    const killedAt = Date.now();
    await victim?.stop();
    while (await up(dead)) await new Promise((r) => setTimeout(r, 50));
    const detect = (Date.now() - killedAt) / 1000;
    await until('the site is placed on another node and served there', async () => {
      const now = (await list<SiteView>(ctl, 'site')).find((s) => s.name === 'fo')?.nodes ?? [];
      return now.length === 2 && !now.includes(dead) && (await Promise.all(now.map(up))).every(Boolean);
    });
    const replaced = (Date.now() - killedAt) / 1000;
    await loop.stop(10_000);
    const stats = loop.output().split('\n').filter((l) => l.startsWith('STATS ')).at(-1);
    const { ok, failed } = stats ? (JSON.parse(stats.slice(6)) as { ok: number; failed: number }) : { ok: 0, failed: -1 };
    console.log(`round ${n}: HAProxy stopped routing to ${dead} ${detect.toFixed(2)} s after the kill; replaced after ${replaced.toFixed(1)} s; ${ok} ok, ${failed} failed`);
    return { detect, replaced, failed, ok };
  } finally {
    await lab.destroy();
  }
}

async function list<T>(ctl: LabController, noun: 'node' | 'site'): Promise<T[]> {
  const out = JSON.parse(await ctl.cli(noun, 'list', '--json')) as { nodes?: T[]; sites?: T[] };
  return out.nodes ?? out.sites ?? [];
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`failover bench: timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
