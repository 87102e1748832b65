import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetNamespace } from '../../src/lab/netns.js';
import type { ManagedHaproxy } from '../../src/balancer/haproxy/process.js';
import { checkTiming, detectionBoundsMs, renderHaproxy } from '../../src/balancer/haproxy/render.js';
import { backendName, serverName } from '../../src/balancer/names.js';
import type { RenderedFile } from '../../src/balancer/model.js';
import { eventually, model, nodeId, processBackend, requireTool, server, site, startHaproxy, statusOf, tempDir } from './helpers.js';

/**
 * Dead and silent nodes, inside a network namespace this test creates: HAProxy, two node
 * processes and the clients all run in it on its loopback. "Killed" is SIGKILL of a node process
 * (its kernel then answers RST). "Silent" is an nftables rule in the namespace dropping every
 * packet to and from the node's port: connects get no answer at all, as with a powered-off
 * machine. Detection times are measured and logged, never asserted (docs/balancer.md).
 */

const N2 = serverName(nodeId(2));
const SHOP = backendName('shop');
const NFT = '/usr/sbin/nft';
const CLIENT = fileURLToPath(new URL('./fixtures/client-loop.ts', import.meta.url));

async function requireNamespaces(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('failover tests need root (network namespaces, nftables): run `sudo npm test`');
  await requireTool('ip', 'iproute2');
  // By full path: under npm, PATH starts with node_modules/.bin, which has an unrelated `nft`.
  await requireTool(NFT, 'nftables');
}

async function namespace(t: ExecutionContext): Promise<NetNamespace> {
  await requireNamespaces();
  const ns = await NetNamespace.create('bfb');
  t.teardown(() => ns.remove());
  return ns;
}

type Settings = 'bootfleet' | 'haproxy-defaults';

/** HAProxy's own defaults for checks (inter 2s, fall 3, rise 2, no timeout check) and Debian's 5 s connect timeout. */
function withDefaults(files: RenderedFile[]): RenderedFile[] {
  return files.map((f) =>
    f.path !== 'haproxy.cfg'
      ? f
      : {
          ...f,
          text: f.text
            .replace(/^ {4}default-server check .*$/m, '    default-server check')
            .replace(/^ {4}timeout check .*\n/m, '')
            .replace(/^ {4}timeout connect .*$/m, '    timeout connect 5000ms'),
        },
  );
}

async function shop(t: ExecutionContext, ns: NetNamespace, settings: Settings): Promise<{ h: ManagedHaproxy; n2: { port: number; pid: number }; port: number }> {
  const wrap = (f: string, a: string[]): [string, string[]] => ns.wrap(f, a);
  const n1 = await processBackend(t, { name: 'n1' }, wrap);
  const n2 = await processBackend(t, { name: 'n2' }, wrap);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const m = model(await tempDir(t), port, [site('shop', ['shop.example'], [server(1, n1.port), server(2, n2.port)])]);
  const h = await startHaproxy(t, m, { wrap });
  if (settings === 'haproxy-defaults') await h.applyFiles(m, withDefaults(renderHaproxy(m)));
  await eventually('both nodes checked UP', async () => {
    const rows = (await h.runtime.showStat()).filter((r) => r.pxname === SHOP && r.svname?.startsWith('n_'));
    return rows.length === 2 && rows.every((r) => r.status === 'UP' && r.check_status === 'L7OK');
  });
  return { h, n2: { port: n2.port, pid: n2.child.pid ?? 0 }, port };
}

async function silence(ns: NetNamespace, port: number): Promise<void> {
  const rules = `table inet bfsilence {\n chain out {\n  type filter hook output priority 0; policy accept;\n  tcp dport ${port} drop\n  tcp sport ${port} drop\n }\n}\n`;
  await ns.exec(NFT, ['-f', '-'], { input: rules });
}

/** SIGKILL: the node's kernel now answers its port with RST. */
async function kill(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
}

async function msToDown(h: ManagedHaproxy, cause: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await cause();
  await eventually('n2 DOWN', async () => (await statusOf(h, SHOP, N2)) === 'DOWN', 60_000, 10);
  return Math.round(performance.now() - t0);
}

test('measure: time from a node dying (RST) or going silent to HAProxy marking it DOWN, ours vs HAProxy defaults', async (t) => {
  const figures: string[] = [];
  for (const settings of ['bootfleet', 'haproxy-defaults'] as const) {
    for (const failure of ['killed (RST)', 'silent (no answer)'] as const) {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const ns = await namespace(t);
        const { h, n2 } = await shop(t, ns, settings);
        runs.push(await msToDown(h, () => (failure === 'killed (RST)' ? kill(n2.pid) : silence(ns, n2.port))));
        await h.stop(500);
        await ns.remove();
      }
      figures.push(`${settings.padEnd(16)} ${failure.padEnd(18)} ${runs.map((ms) => `${ms} ms`).join(', ')}`);
    }
  }
  const bound = detectionBoundsMs(checkTiming());
  // shop() returns right after it saw a passing check, so each failure starts at the worst phase.
  t.log(`time to DOWN, failure right after a passing check (worst phase), 3 runs each:\n${figures.join('\n')}\nbootfleet worst case by arithmetic: refused ${bound.refused} ms, silent ${bound.silent} ms`);
  t.pass();
});

async function clientsDuring(t: ExecutionContext, ns: NetNamespace, port: number, during: () => Promise<void>): Promise<Record<string, { ok: number; failures: string[] }>> {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx/esm', CLIENT, JSON.stringify({ port, host: 'shop.example' })], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  await eventually('clients running', async () => out.includes('running'), 20_000);
  await sleep(1000);
  await during();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}') as Record<string, { ok: number; failures: string[] }>;
}

for (const failure of ['killed', 'silent'] as const) {
  test(`a node ${failure === 'killed' ? 'killed (RST)' : 'going silent (packets dropped)'} under client loops fails no client request`, async (t) => {
    const ns = await namespace(t);
    const { h, n2, port } = await shop(t, ns, 'bootfleet');
    let downMs = 0;
    const results = await clientsDuring(t, ns, port, async () => {
      downMs = await msToDown(h, () => (failure === 'killed' ? kill(n2.pid) : silence(ns, n2.port)));
      // Requests already sent to a silent node wait for `timeout server` (10 s), then are retried
      // on the other node; keep the clients running until those have come back.
      await sleep(failure === 'silent' ? 11_000 : 1000);
    });
    t.log(`DOWN after ${downMs} ms; ${Object.entries(results).map(([k, v]) => `${k}: ${v.ok} ok, ${v.failures.length} failed`).join('; ')}`);
    for (const [kind, r] of Object.entries(results)) {
      t.true(r.ok > 10, `${kind} made requests`);
      t.deepEqual(r.failures, [], kind);
    }
    t.is(Object.keys(results).length, 3);
  });
}
