import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { ManagedHaproxy } from '../../src/balancer/haproxy/process.js';
import { renderHaproxy } from '../../src/balancer/haproxy/render.js';
import { isAlive } from '../../src/balancer/haproxy/pids.js';
import { ADMIN, parseServersState } from '../../src/balancer/haproxy/runtime.js';
import { backendName, serverName } from '../../src/balancer/names.js';
import type { BalancerModel } from '../../src/balancer/model.js';
import { BootfleetError } from '../../src/errors.js';
import { startBackend, type Backend } from './backend.js';
import { ClientLoop, NaiveKeepAliveLoop, eventually, freePort, get, model, nodeId, requireTool, server, site, startHaproxy, statusOf, tempDir } from './helpers.js';

/** Reloads of the managed HAProxy: no failed request, state kept, bad candidates refused. */

const N1 = serverName(nodeId(1));
const N2 = serverName(nodeId(2));
const SHOP = backendName('shop');

async function setup(t: ExecutionContext): Promise<{ h: ManagedHaproxy; m: BalancerModel; port: number; b1: Backend; b2: Backend }> {
  const b1 = await startBackend({ name: 'n1' });
  const b2 = await startBackend({ name: 'n2' });
  t.teardown(() => Promise.all([b1.close(), b2.close()]));
  const port = await freePort();
  const m = model(await tempDir(t), port, [site('shop', ['shop.example'], [server(1, b1.port), server(2, b2.port)])]);
  const h = await startHaproxy(t, m);
  await eventually('first checks', async () => (await h.runtime.showStat()).filter((r) => r.svname?.startsWith('n_')).every((r) => r.check_status === 'L7OK'));
  return { h, m, port, b1, b2 };
}

test('five reloads under keep-alive and new-connection client loops fail no request', async (t) => {
  const { h, m, port, b1 } = await setup(t);
  const before = (await h.master.showProc()).reloads;
  const keepAlive = new ClientLoop(port, 'shop.example', { workers: 3, keepAlive: true, gapMs: 20 });
  const fresh = new ClientLoop(port, 'shop.example', { workers: 2 });
  const naive = new NaiveKeepAliveLoop(port, 'shop.example', { workers: 4, gapMs: 20 });
  for (let i = 0; i < 5; i++) {
    m.generation++;
    // A structural change each time: a new site (with a new map line) that needs a reload.
    m.sites.push(site(`extra${i}`, [`extra${i}.example`], [server(1, b1.port)]));
    const r = await h.apply(m);
    t.true(r.reloaded);
    t.deepEqual(r.held, []);
    t.is((await get(port, `extra${i}.example`)).node, 'n1');
  }
  const [ka, nv, nc] = [await keepAlive.stop(), await naive.stop(), await fresh.stop()];
  t.log(`keep-alive (Node agent): ${ka.ok} ok, ${ka.failures.length} failed; keep-alive (naive): ${nv.ok} ok, ${nv.failures.length} failed; new connections: ${nc.ok} ok, ${nc.failures.length} failed`);
  t.deepEqual(ka.failures, []);
  // The clients that reuse a connection blindly are the ones idle-close-on-response protects.
  t.deepEqual(nv.failures, []);
  t.deepEqual(nc.failures, []);
  t.true(ka.ok > 20 && nv.ok > 20 && nc.ok > 20);
  const proc = await h.master.showProc();
  t.is(proc.reloads, before + 5);
  t.is(proc.failed, 0);
});

test('across a reload a drained server stays drained and a DOWN server stays DOWN (server-state file)', async (t) => {
  const { h, m, port, b2 } = await setup(t);
  m.sites[0]!.servers[0]!.admin = 'drain';
  await h.apply(m);
  await b2.close();
  await eventually('n2 DOWN', async () => (await statusOf(h, SHOP, N2)) === 'DOWN');
  m.sites.push(site('blog', ['blog.example'], [server(1, m.sites[0]!.servers[0]!.port)]));
  const r = await h.apply(m);
  t.true(r.reloaded);
  // No drain step was needed after the reload: the new worker read FDRAIN from the state file.
  t.deepEqual(r.steps.filter((s) => s.backend === SHOP), []);
  t.is(await statusOf(h, SHOP, N1), 'DRAIN');
  // Without the state file the new worker would have it UP until its first failed check.
  t.is(await statusOf(h, SHOP, N2), 'DOWN');
  const saved = parseServersState(await readFile(h.paths.stateFile, 'utf8'));
  const n1 = saved.find((row) => row.be_name === SHOP && row.srv_name === N1);
  t.truthy(n1);
  t.true((Number(n1?.srv_admin_state) & ADMIN.FDRAIN) !== 0);
  t.is((await get(port, 'shop.example')).status, 503, 'only a drained and a dead server left');
});

test('a candidate refused by haproxy -c changes nothing: same files, same process, still serving', async (t) => {
  const { h, m, port } = await setup(t);
  const cfgBefore = await readFile(h.paths.config, 'utf8');
  const mapBefore = await readFile(h.paths.map, 'utf8');
  const proc = await h.master.showProc();
  const next = structuredClone(m);
  next.sites.push(site('blog', ['blog.example'], [server(1, m.sites[0]!.servers[0]!.port)]));
  const files = renderHaproxy(next).map((f) => (f.path === 'haproxy.cfg' ? { ...f, text: `${f.text}    no-such-keyword here\n` } : f));
  const err = await t.throwsAsync(h.applyFiles(next, files), { instanceOf: BootfleetError });
  t.is(err?.code, 'ERR_COMMAND_FAILED');
  t.regex(err?.message ?? '', /haproxy -c refused .*unknown keyword 'no-such-keyword'/s);
  t.is(await readFile(h.paths.config, 'utf8'), cfgBefore);
  t.is(await readFile(h.paths.map, 'utf8'), mapBefore);
  t.deepEqual(await h.master.showProc().then((p) => [p.reloads, p.workers.map((w) => w.pid)]), [proc.reloads, proc.workers.map((w) => w.pid)]);
  t.is((await get(port, 'shop.example')).status, 200);
  t.is((await get(port, 'blog.example')).status, 404);
});

test('a reload HAProxy cannot load (port in use) is reported, the old config keeps serving, and a good apply works after', async (t) => {
  const { h, m, port } = await setup(t);
  const squatter = createServer();
  const busy = await freePort();
  await new Promise<void>((r) => squatter.listen(busy, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => squatter.close(() => r())));
  const cfgBefore = await readFile(h.paths.config, 'utf8');
  const bad = structuredClone(m);
  bad.listen.push({ address: '127.0.0.1', port: busy });
  const err = await t.throwsAsync(h.apply(bad), { instanceOf: BootfleetError });
  t.regex(err?.message ?? '', /could not load the new configuration and still serves the previous one/);
  t.regex(err?.message ?? '', /cannot bind socket/);
  t.is(await readFile(h.paths.config, 'utf8'), cfgBefore, 'the previous config is back on disk');
  t.is((await get(port, 'shop.example')).status, 200);
  m.sites.push(site('blog', ['blog.example'], [server(2, m.sites[0]!.servers[1]!.port)]));
  t.true((await h.apply(m)).reloaded);
  t.is((await h.master.showProc()).failed, 0);
  t.is((await get(port, 'blog.example')).node, 'n2');
});

test('a changed port reaches the new port after a reload (the state file does not pin the old one)', async (t) => {
  const { h, m, port } = await setup(t);
  const b3 = await startBackend({ name: 'n2-moved' });
  t.teardown(() => b3.close());
  m.sites[0]!.servers[1]!.port = b3.port;
  const r = await h.apply(m);
  t.true(r.reloaded);
  t.deepEqual(r.readmitted, [{ backend: SHOP, server: N2 }], 'a moved server re-enters through the readmit sequence');
  const seen = new Set<string | undefined>();
  for (let i = 0; i < 6; i++) seen.add((await get(port, 'shop.example')).node);
  t.deepEqual([...seen].sort(), ['n1', 'n2-moved']);
});

test('stop() leaves no HAProxy process; a second manager adopts a running master', async (t) => {
  const { h, m, port } = await setup(t);
  const pids = await h.pids();
  t.true(pids.length >= 2);
  const other = new ManagedHaproxy(m.paths.stateDir);
  const adopted = await other.start(m);
  t.true(adopted.reloaded);
  t.is(other.pid, h.pid);
  t.is((await get(port, 'shop.example')).status, 200);
  const all = await other.pids();
  await other.stop(1000);
  t.false(other.running);
  await eventually('all gone', async () => all.every((p) => !isAlive(p)), 5000);
  t.deepEqual([...pids, ...all].filter(isAlive), []);
});

test('a missing haproxy binary is a clear error', async (t) => {
  await requireTool('haproxy', 'haproxy');
  const m = model(await tempDir(t), await freePort(), []);
  const h = new ManagedHaproxy(m.paths.stateDir, { binary: '/nonexistent/haproxy' });
  await t.throwsAsync(h.start(m), { message: /haproxy binary "\/nonexistent\/haproxy" not found: install HAProxy 2\.6/ });
});
