import test from 'ava';
import { backendName, cookieValue, serverName } from '../../src/balancer/names.js';
import { startBackend, type Backend } from './backend.js';
import { eventually, freePort, get, model, nodeId, server, site, startHaproxy, statusOf, tempDir } from './helpers.js';
import type { ExecutionContext } from 'ava';
import type { BalancerModel } from '../../src/balancer/model.js';
import type { ManagedHaproxy } from '../../src/balancer/haproxy/process.js';

/**
 * Debian's HAProxy 2.6 managed by ManagedHaproxy on loopback, in front of two in-process "nodes"
 * that answer with their name and the Host they were asked for.
 */

const N2 = serverName(nodeId(2));
const SHOP = backendName('shop');
const BLOG = backendName('blog');

async function cluster(t: ExecutionContext, tweak: (m: BalancerModel) => void = () => undefined): Promise<{ h: ManagedHaproxy; m: BalancerModel; port: number; b1: Backend; b2: Backend }> {
  const b1 = await startBackend({ name: 'n1', healthText: 'Database connection OK' });
  const b2 = await startBackend({ name: 'n2', healthText: 'Database connection OK' });
  t.teardown(() => Promise.all([b1.close(), b2.close()]));
  const port = await freePort();
  const m = model(await tempDir(t), port, [
    site('shop', ['shop.example', 'www.shop.example'], [server(1, b1.port), server(2, b2.port)], { check: { path: '/health', status: 200, text: 'Database connection OK' } }),
    site('blog', ['blog.example'], [server(2, b2.port)]),
    site('empty', ['empty.example'], []),
  ]);
  tweak(m);
  const h = await startHaproxy(t, m);
  // Servers start UP before their first check; wait for real L7OK results.
  await eventually('first checks', async () => (await h.runtime.showStat()).filter((r) => r.svname?.startsWith('n_')).every((r) => r.check_status === 'L7OK'));
  return { h, m, port, b1, b2 };
}

async function nodesFor(port: number, host: string, n = 6): Promise<Set<string | undefined>> {
  const seen = new Set<string | undefined>();
  for (let i = 0; i < n; i++) seen.add((await get(port, host)).node);
  return seen;
}

test('routes by Host (any case, with a port) to the site backend; unknown hosts get 404, empty sites 503', async (t) => {
  const { port, b1, b2 } = await cluster(t);
  t.deepEqual([...(await nodesFor(port, 'shop.example'))].sort(), ['n1', 'n2']);
  t.deepEqual([...(await nodesFor(port, 'blog.example'))], ['n2']);
  const r = await get(port, 'WWW.Shop.Example:8080', '/cart');
  t.is(r.status, 200);
  t.regex(r.body, /^n[12] WWW\.Shop\.Example:8080 \/cart$/m, 'Host is passed on as sent');
  const unknown = await get(port, 'evil.example');
  t.is(unknown.status, 404);
  t.is(unknown.body, 'unknown site');
  const empty = await get(port, 'empty.example');
  t.is(empty.status, 503);
  t.is(empty.body, 'site empty has no servers');
  // Checks carry the site's primary domain as Host, per site.
  t.true(b1.checks.includes('shop.example'));
  t.true(b2.checks.includes('blog.example'));
});

test('a node whose health text or status is wrong leaves rotation, and comes back when healthy', async (t) => {
  const { h, port, b2 } = await cluster(t);
  b2.health.text = 'Database connection FAILED';
  await eventually('n2 DOWN on text', async () => (await statusOf(h, SHOP, N2)) === 'DOWN');
  const row = (await h.runtime.showStat()).find((r) => r.pxname === SHOP && r.svname === N2);
  t.is(row?.check_status, 'L7RSP');
  t.deepEqual([...(await nodesFor(port, 'shop.example'))], ['n1']);
  t.is(await statusOf(h, BLOG, N2), 'UP', 'blog checks only the status, so n2 stays in blog');
  // Right text, wrong status: the status rule still fails the check.
  b2.health.text = 'Database connection OK';
  b2.health.status = 503;
  await eventually('n2 still DOWN on status', async () => (await statusOf(h, BLOG, N2)) === 'DOWN');
  t.is(await statusOf(h, SHOP, N2), 'DOWN');
  b2.health.status = 200;
  await eventually('n2 back UP', async () => (await statusOf(h, SHOP, N2)) === 'UP' && (await statusOf(h, BLOG, N2)) === 'UP');
  t.deepEqual([...(await nodesFor(port, 'shop.example'))].sort(), ['n1', 'n2']);
});

test('drainNode takes a node out of every site at once; its sessions reach zero', async (t) => {
  const { h, port, b2 } = await cluster(t);
  t.deepEqual((await h.runtime.drainNode(N2)).sort(), [BLOG, SHOP]);
  t.is(await statusOf(h, SHOP, N2), 'DRAIN');
  t.is(await statusOf(h, BLOG, N2), 'DRAIN');
  const before = b2.hits.get('shop.example') ?? 0;
  t.deepEqual([...(await nodesFor(port, 'shop.example', 10))], ['n1']);
  t.is(b2.hits.get('shop.example') ?? 0, before, 'no new shop request reached n2');
  // blog has only n2: a drained last server gets no load-balanced traffic, HAProxy answers 503.
  t.is((await get(port, 'blog.example')).status, 503);
  t.is(await h.runtime.sessions(N2), 0);
});

test('readmit goes MAINT → DRAIN → fresh L7OK → READY; a dead node is held in DRAIN, while a direct READY would be UP before any check', async (t) => {
  const { h, port, b2 } = await cluster(t);
  await h.runtime.setServerState(SHOP, N2, 'maint');
  t.is(await statusOf(h, SHOP, N2), 'MAINT');
  const seen = new Set<string>();
  let watching = true;
  const watcher = (async () => {
    while (watching) seen.add((await statusOf(h, SHOP, N2)) ?? '');
  })();
  const result = await h.runtime.readmit([{ backend: SHOP, server: N2 }], { timeoutMs: 10_000 });
  watching = false;
  await watcher;
  t.deepEqual(result, { readmitted: [{ backend: SHOP, server: N2 }], held: [] });
  t.false([...seen].some((s) => s.startsWith('UP ')), `never UP before its check: ${[...seen].join(', ')}`);
  t.log(`statuses seen while readmitting: ${[...seen].join(', ')}`);
  t.is(await statusOf(h, SHOP, N2), 'UP');
  t.deepEqual([...(await nodesFor(port, 'shop.example'))].sort(), ['n1', 'n2']);

  // Now the node is dead: the same sequence keeps it out of rotation.
  await h.runtime.setServerState(SHOP, N2, 'maint');
  await b2.close();
  const dead = await h.runtime.readmit([{ backend: SHOP, server: N2 }], { timeoutMs: 3000 });
  t.deepEqual(dead.held, [{ backend: SHOP, server: N2 }]);
  t.notRegex((await statusOf(h, SHOP, N2)) ?? '', /^UP/);
  await t.throwsAsync(h.runtime.waitFresh(SHOP, N2, { timeoutMs: 500 }), { message: /not freshly checked within 500 ms .*left in DRAIN/ });
  // The trap the sequence avoids: READY straight from MAINT is UP at once, unchecked.
  await h.runtime.setServerState(SHOP, N2, 'maint');
  await h.runtime.setServerState(SHOP, N2, 'ready');
  t.regex((await statusOf(h, SHOP, N2)) ?? '', /^UP/);
});

test('apply() changes admin states through the runtime API without a reload, readmitting from MAINT', async (t) => {
  const { h, m, port } = await cluster(t);
  const reloads = (await h.master.showProc()).reloads;
  m.sites[0]!.servers[1]!.admin = 'maint';
  const r1 = await h.apply(m);
  t.false(r1.reloaded);
  t.deepEqual(r1.steps, [{ op: 'maint', backend: SHOP, server: N2 }]);
  t.is(await statusOf(h, SHOP, N2), 'MAINT');
  t.deepEqual([...(await nodesFor(port, 'shop.example'))], ['n1']);
  t.deepEqual((await h.apply(m)).steps, [], 'idempotent');
  m.sites[0]!.servers[1]!.admin = 'ready';
  m.sites[0]!.servers[1]!.weight = 3;
  const r2 = await h.apply(m);
  t.false(r2.reloaded);
  t.deepEqual(r2.readmitted, [{ backend: SHOP, server: N2 }]);
  const row = (await h.runtime.showStat()).find((r) => r.pxname === SHOP && r.svname === N2);
  t.is(row?.status, 'UP');
  t.is(row?.weight, '3');
  t.is((await h.master.showProc()).reloads, reloads, 'no reload');
});

test('cookie affinity: the inserted cookie keeps a client on one node', async (t) => {
  const { port } = await cluster(t, (m) => (m.sites[0]!.affinity = { cookie: 'BFSID' }));
  const first = await get(port, 'shop.example');
  t.true(first.cookie === `BFSID=${cookieValue(nodeId(1))}` || first.cookie === `BFSID=${cookieValue(nodeId(2))}`, first.cookie);
  for (let i = 0; i < 6; i++) t.is((await get(port, 'shop.example', '/', { cookie: first.cookie ?? '' })).node, first.node);
});

test('a GET that got no answer is replayed on the other node; a POST is not (disable-l7-retry unless GET)', async (t) => {
  const b1 = await startBackend({ name: 'n1', hangUp: true });
  const b2 = await startBackend({ name: 'n2' });
  t.teardown(() => Promise.all([b1.close(), b2.close()]));
  const port = await freePort();
  const h = await startHaproxy(t, model(await tempDir(t), port, [site('shop', ['shop.example'], [server(1, b1.port), server(2, b2.port)])]));
  await eventually('first checks', async () => (await h.runtime.showStat()).filter((r) => r.svname?.startsWith('n_')).every((r) => r.check_status === 'L7OK'));
  for (let i = 0; i < 4; i++) t.is((await get(port, 'shop.example')).node, 'n2');
  t.true(b1.methods.includes('GET'), 'n1 got GETs and dropped them');
  const posts = [];
  for (let i = 0; i < 4; i++) posts.push((await get(port, 'shop.example', '/', { method: 'POST' })).status);
  const dropped = b1.methods.filter((m) => m === 'POST').length;
  t.true(dropped > 0, 'round robin sent some POSTs to n1');
  t.is(dropped + b2.methods.filter((m) => m === 'POST').length, 4, 'no POST was sent twice');
  t.is(posts.filter((s) => s === 502).length, dropped);
});
