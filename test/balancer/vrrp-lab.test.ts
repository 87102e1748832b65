import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BalancerConfig } from '../../src/config.js';
import { BalancerService } from '../../src/controller/balancer-service.js';
import { balancerModel } from '../../src/cluster/balancer-model.js';
import { emptyCluster, type ClusterState } from '../../src/cluster/model.js';
import { balancerListen } from '../../src/balancer/keepalived/listen.js';
import { backendName } from '../../src/balancer/names.js';
import { silentLogger } from '../../src/log.js';
import type { NetNamespace } from '../../src/lab/netns.js';
import type { LabProcess } from '../../src/lab/process.js';
import { nodeScript } from '../../src/lab/lab-controller.js';
import { stopLoad, type LoadStats } from '../../src/lab/load-stats.js';
import { packageRoot } from '../../src/pkg.js';
import { withLab } from '../helpers/lab.js';
import { eventually, nodeId, processBackend, requireTool, tempDir } from './helpers.js';
import { isAlive } from '../../src/balancer/haproxy/pids.js';
import type { BalancerModel } from '../../src/balancer/model.js';
import type { Lab } from '../../src/lab/lab.js';

const HOST_FIXTURE = fileURLToPath(new URL('./fixtures/balancer-host.ts', import.meta.url));

/**
 * The balancer pair with real parts and no QEMU: two "balancer host" namespaces on the lab bridge,
 * each with the controller's BalancerService (managed HAProxy + keepalived) fed the same balancer
 * model, two tiny web backends in their own namespaces, and a client namespace running load
 * clients against the virtual address. The holder's keepalived, then the other's HAProxy, are
 * killed by PID; the address has to move and requests go on. Failed requests across each move are
 * counted and logged (docs/balancer.md "Balancer pair (VRRP)"), never timed.
 */

const VIP = '198.18.0.100';
const HOSTS = { a: '198.18.0.11', b: '198.18.0.12' } as const;
const WEB = ['198.18.0.21', '198.18.0.22'];
const SITE_PORT = 8081;
const SHOP = 'shop.example';

async function requireVrrpLab(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the VRRP lab needs root (network namespaces, VRRP): run `sudo npm test`');
  await requireTool('ip', 'iproute2');
  await requireTool('setpriv', 'util-linux');
  await requireTool('haproxy', 'haproxy');
  await requireTool('keepalived', 'keepalived');
}

/** The placement both controllers read: site shop on both web nodes. */
function placement(): ClusterState {
  const state = emptyCluster();
  state.generation = 1;
  state.sites['shop'] = {
    name: 'shop', domains: [SHOP], port: SITE_PORT, weight: 1, minReplicas: 2, maxReplicas: 2, replicas: 2, lastScaleAt: 0, capacity: 100,
    health: { path: '/health', status: 200 }, pinned: [], content: { version: 'v1', sha256: 'x', size: 1, uploadedAt: '2026-01-01T00:00:00Z' },
  };
  state.placement['shop'] = [nodeId(1), nodeId(2)];
  return state;
}

interface BalancerHost {
  name: string;
  ns: NetNamespace;
  service: BalancerService;
  /** What the cluster loop does every second: bring the balancer to the placement's model. */
  update: () => Promise<void>;
}

const CONFIG: BalancerConfig = {
  kind: 'haproxy', mode: 'managed', binary: 'haproxy',
  vip: { address: `${VIP}/24`, interface: 'eth0', routerId: 51, priority: 100, binary: 'keepalived' },
};

/** The model a controller on `name` renders from the placement (as its cluster loop does). */
function modelFor(name: 'a' | 'b', dir: string): BalancerModel {
  const listen = balancerListen({ controllerAddress: HOSTS[name], vipAddress: `${VIP}/24` });
  const addressOf = (mac: string): string | undefined => WEB[[nodeId(1), nodeId(2)].indexOf(mac)];
  return balancerModel(placement(), addressOf, { listen, stateDir: dir });
}

async function balancerHost(t: ExecutionContext, ns: NetNamespace, name: 'a' | 'b'): Promise<BalancerHost> {
  const dir = await tempDir(t, `bfv${name}-`);
  const service = new BalancerService(CONFIG, dir, silentLogger(), { wrap: (f, a) => ns.wrap(f, a), name: `lb-${name}` });
  t.teardown(async () => {
    if (!t.passed) t.log(`lb-${name}: keepalived log ${dir}/vrrp/keepalived.log`);
    await service.stop();
  });
  const update = (): Promise<void> => service.update(modelFor(name, dir));
  await update();
  if (!service.runtime()?.running) throw new Error(`lb-${name}: haproxy did not start (see ${dir}/haproxy.log)`);
  return { name, ns, service, update };
}

/** The lab bridge, two balancer hosts' namespaces, two web backends and a client namespace. */
async function pairLab(t: ExecutionContext): Promise<{ lab: Lab; nsA: NetNamespace; nsB: NetNamespace; client: NetNamespace }> {
  await requireVrrpLab();
  const lab = await withLab(t);
  const [nsA, nsB, web1, web2, client] = await Promise.all([
    lab.addHost('lb-a', `${HOSTS.a}/24`), lab.addHost('lb-b', `${HOSTS.b}/24`),
    lab.addHost('web-1', `${WEB[0]}/24`), lab.addHost('web-2', `${WEB[1]}/24`),
    lab.addHost('client', '198.18.0.30/24'),
  ]);
  await processBackend(t, { name: 'web-1', address: '0.0.0.0', port: SITE_PORT }, (f, a) => web1.wrap(f, a));
  await processBackend(t, { name: 'web-2', address: '0.0.0.0', port: SITE_PORT }, (f, a) => web2.wrap(f, a));
  return { lab, nsA, nsB, client };
}

async function hasVip(ns: NetNamespace): Promise<boolean> {
  const out = await ns.ip(['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  return out.includes(` ${VIP}/`);
}

async function holders<T extends { ns: NetNamespace }>(hosts: T[]): Promise<T[]> {
  const has = await Promise.all(hosts.map((h) => hasVip(h.ns)));
  return hosts.filter((_, i) => has[i]);
}

/**
 * The one host that has held the VIP, alone, for 5 s on end (longer than Master_Down_Interval,
 * 3.61 s): the pair has settled. On a heavily loaded machine adverts have arrived late enough for
 * both hosts to be master for a while; a test that started its clients then measured that.
 */
async function settledHolder<T extends { ns: NetNamespace }>(hosts: T[]): Promise<T> {
  let since = Date.now();
  let last: T | undefined;
  return eventually('one host holding the VIP alone for 5 s', async () => {
    const on = await holders(hosts);
    const now = on.length === 1 ? on[0] : undefined;
    if (now !== last) [last, since] = [now, Date.now()];
    return now !== undefined && Date.now() - since >= 5000 ? now : undefined;
  }, 120_000, 100);
}

/** The `server` lines of a host's rendered haproxy.cfg. */
async function servers(h: BalancerHost): Promise<string[]> {
  const cfg = await readFile(`${h.service.dir}/haproxy.cfg`, 'utf8');
  return cfg.split('\n').filter((l) => l.trim().startsWith('server '));
}

/** The client's counts so far (its last STATS line). */
function okSoFar(p: LabProcess): number {
  const last = p.output().split('\n').filter((l) => l.startsWith('STATS ')).at(-1);
  return last ? (JSON.parse(last.slice(6)) as { ok: number }).ok : 0;
}

function load(lab: Lab, client: NetNamespace, keepAlive: boolean): LabProcess {
  const [node = process.execPath, ...argv] = nodeScript('lab/load-client');
  const args = { url: `http://${VIP}/`, hosts: [SHOP], expect: { [SHOP]: SHOP }, concurrency: 4, pauseMs: 20, keepAlive };
  return lab.spawn(node, [...argv, JSON.stringify(args)], { name: `load-${keepAlive ? 'ka' : 'new'}-${Date.now()}`, netns: client, cwd: packageRoot() });
}

/** Load clients (keep-alive and a new connection per request) across `move`, which returns once the VIP moved. */
async function loadAcross(lab: Lab, client: NetNamespace, what: string, move: () => Promise<void>): Promise<Record<string, LoadStats>> {
  const clients = { 'keep-alive': load(lab, client, true), 'new connection per request': load(lab, client, false) };
  await eventually(`${what}: load clients succeed before the move`, async () => Object.values(clients).every((c) => okSoFar(c) >= 50), 60_000, 100);
  await move();
  // Requests succeed after the move: each client gets many more answers through the new holder.
  const after = Object.fromEntries(Object.entries(clients).map(([k, c]) => [k, okSoFar(c)]));
  await eventually(`${what}: requests succeed after the move`, async () => Object.entries(clients).every(([k, c]) => okSoFar(c) >= (after[k] ?? 0) + 100), 60_000, 100);
  const stats: Record<string, LoadStats> = {};
  for (const [k, c] of Object.entries(clients)) stats[k] = await stopLoad(c);
  return stats;
}

function reportLoad(t: ExecutionContext, what: string, stats: Record<string, LoadStats>): void {
  const lines = Object.entries(stats).map(([k, s]) => `  ${k}: ${s.ok} ok, ${s.failed} failed${s.failures.length ? `\n    ${s.failures.slice(0, 8).join('\n    ')}` : ''}`);
  t.log(`${what}:\n${lines.join('\n')}`);
  for (const [k, s] of Object.entries(stats)) t.true(s.ok > 200, `${what}, ${k}: requests were made`);
}

test.serial('balancer pair: the VIP sits on one host and moves when its keepalived or its HAProxy is killed; requests go on', async (t) => {
  const { lab, nsA, nsB, client } = await pairLab(t);
  const hosts = [await balancerHost(t, nsA, 'a'), await balancerHost(t, nsB, 'b')];

  // Both HAProxy configs come from the same placement: the same servers, and both check them UP.
  t.deepEqual(await servers(hosts[0] as BalancerHost), await servers(hosts[1] as BalancerHost));
  t.is((await servers(hosts[0] as BalancerHost)).length, 2);
  for (const h of hosts) {
    await eventually(`lb-${h.name}: both web nodes UP`, async () => {
      const rows = (await h.service.runtime()?.runtime.showStat()) ?? [];
      return rows.filter((r) => r.pxname === backendName('shop') && r.svname?.startsWith('n_') && r.status === 'UP').length === 2;
    }, 30_000, 100);
  }

  const first = await settledHolder(hosts);
  const other = hosts.find((h) => h !== first) as BalancerHost;
  t.deepEqual((await holders(hosts)).map((h) => h.name), [first.name], 'the VIP is on exactly one host');

  const across = (what: string, move: () => Promise<void>): Promise<Record<string, LoadStats>> => loadAcross(lab, client, what, move);
  const report = (what: string, stats: Record<string, LoadStats>): void => reportLoad(t, what, stats);

  // 1. The holder's keepalived is killed (SIGKILL, by PID): its VRRP child gives the address up and
  // the peer takes it; BalancerService starts keepalived again, which stays BACKUP (nopreempt).
  const killed = first.service.vrrp()?.pid;
  if (killed === undefined) return t.fail(`lb-${first.name}: keepalived does not run`);
  const s1 = await across('keepalived killed', async () => {
    process.kill(killed, 'SIGKILL');
    await eventually('the VIP on the other host only', async () => (await holders(hosts)).map((h) => h.name).join() === other.name, 60_000, 20);
  });
  report(`VIP ${first.name} → ${other.name} after keepalived ${killed} was killed`, s1);
  await eventually(`lb-${first.name}: keepalived started again`, async () => {
    const pid = first.service.vrrp()?.pid;
    return pid !== undefined && pid !== killed && (await first.service.vrrp()?.vrrpPid()) !== undefined;
  }, 30_000, 100);
  // Several advert intervals with both keepalived running: the restarted one does not take the address back.
  await sleep(5000);
  t.deepEqual((await holders(hosts)).map((h) => h.name), [other.name], 'the restarted keepalived leaves the VIP where it is');

  // 2. The new holder's HAProxy is killed (master and workers, by PID): BalancerService sees its
  // child exit and sets keepalived's track_file, keepalived goes to FAULT and gives the address
  // up; the first host (BACKUP again) takes it.
  const haproxy = other.service.runtime()?.pid;
  if (haproxy === undefined) return t.fail(`lb-${other.name}: haproxy does not run`);
  const s2 = await across('haproxy killed', async () => {
    const pids = (await other.service.runtime()?.pids()) ?? [haproxy];
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await eventually('the VIP back on the first host only', async () => (await holders(hosts)).map((h) => h.name).join() === first.name, 60_000, 20);
  });
  report(`VIP ${other.name} → ${first.name} after haproxy ${haproxy} was killed`, s2);
  t.deepEqual((await holders(hosts)).map((h) => h.name), [first.name]);

  // 3. The cluster loop's next update starts the dead HAProxy again and clears the flag keepalived
  // watches: that host is a working BACKUP again (the VIP stays put), and takes the address when
  // the holder's keepalived is killed once more.
  await other.update();
  t.true(other.service.runtime()?.running, `lb-${other.name}: haproxy started again`);
  await eventually(`lb-${other.name}: keepalived BACKUP again`, async () => {
    const log = await readFile(`${other.service.dir}/vrrp/keepalived.log`, 'utf8');
    return /\(bootfleet\) Entering BACKUP STATE[^\n]*\n(?![\s\S]*FAULT)/.test(log);
  }, 30_000, 100);
  t.deepEqual((await holders(hosts)).map((h) => h.name), [first.name], 'the VIP stays on the first host');
  const again = first.service.vrrp()?.pid;
  if (again === undefined) return t.fail(`lb-${first.name}: keepalived does not run`);
  const s3 = await across('keepalived killed again', async () => {
    process.kill(again, 'SIGKILL');
    await eventually('the VIP on the recovered host only', async () => (await holders(hosts)).map((h) => h.name).join() === other.name, 60_000, 20);
  });
  report(`VIP ${first.name} → ${other.name} after keepalived ${again} was killed`, s3);

  const res = await execa('ip', ['netns', 'exec', client.name, 'curl', '-s', '--max-time', '5', '-H', `Host: ${SHOP}`, `http://${VIP}/`], { reject: false });
  t.regex(res.stdout, /^web-[12] shop\.example \//, 'a request through the VIP after both moves');
  // keepalived accepted every line of the rendered config and runs the check as configured.
  for (const h of hosts) {
    const log = await readFile(`${h.service.dir}/vrrp/keepalived.log`, 'utf8');
    t.notRegex(log, /unknown keyword|SECURITY VIOLATION|WARNING/i, `lb-${h.name}: keepalived.log`);
  }
});

test.serial('balancer pair: a controller killed by SIGKILL gives the VIP to its peer (keepalived dies with it)', async (t) => {
  const { lab, nsA, nsB, client } = await pairLab(t);
  // Controller b as its own process (the fixture runs BalancerService), started first so it holds the VIP.
  const dirB = await tempDir(t, 'bfvb-');
  const ctlB = lab.spawn(process.execPath, ['--import', 'tsx/esm', HOST_FIXTURE, JSON.stringify({ config: CONFIG, model: modelFor('b', dirB), netns: nsB.name, name: 'lb-b' })], { name: 'controller-b', cwd: packageRoot() });
  const ready = await ctlB.waitFor(/ready haproxy=(\d+) keepalived=(\d+)/, 60_000);
  const keepalivedB = Number(ready[2]);
  await eventually('the VIP on b', () => hasVip(nsB), 30_000, 100);
  const a = await balancerHost(t, nsA, 'a');
  await eventually('lb-a: both web nodes UP', async () => {
    const rows = (await a.service.runtime()?.runtime.showStat()) ?? [];
    return rows.filter((r) => r.pxname === backendName('shop') && r.svname?.startsWith('n_') && r.status === 'UP').length === 2;
  }, 30_000, 100);
  const hosts = [a, { name: 'b', ns: nsB }];
  t.is((await settledHolder(hosts)).name, 'b');

  const stats = await loadAcross(lab, client, 'controller killed', async () => {
    process.kill(ctlB.pid, 'SIGKILL');
    await eventually('the VIP on a only', async () => (await holders(hosts)).map((h) => h.name).join() === 'a', 60_000, 20);
  });
  reportLoad(t, `VIP b → a after controller b (pid ${ctlB.pid}) was killed`, stats);
  await eventually('b\'s keepalived gone', async () => !isAlive(keepalivedB), 10_000, 100);
  t.deepEqual((await holders(hosts)).map((h) => h.name), ['a']);
});
