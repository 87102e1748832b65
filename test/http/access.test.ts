import test from 'ava';
import { readFile } from 'node:fs/promises';
import { routes } from '../../src/http/app.js';
import { withApp, STRANGER, type TestApp } from '../helpers/app.js';
import { validateSite } from '../../src/cluster/sites.js';
import { tarOf } from '../helpers/tar.js';
import { ControllerMetrics } from '../../src/metrics/metrics.js';

// Who may call each route (src/http/access.ts): everyone else is turned away, for every route of
// the table, and docs/http-api.md lists exactly these routes with the same access.

const MAC = '52:54:00:00:00:aa';

/** A concrete request path for a route pattern. */
function pathOf(pattern: string): string {
  return pattern
    .replace('/boot.ipxe', `/boot.ipxe?mac=${MAC}`)
    .replace(':mac', MAC)
    .replace('/sites/:site/:version', `/sites/shop/${CONTENT}`)
    .replace('/api/sites/:name', '/api/sites/shop')
    .replace(':name', 'tiny-web')
    .replace(':version', '0123456789ab-amd64')
    .replace(':kind', 'haproxy')
    .replace('/api/stream', '/api/stream?once')
    .replace('/layers/:file', `/layers/${'0'.repeat(64)}.squashfs`)
    .replace(':file', 'live.js')
    .replace('*path', 'vmlinuz');
}

let CONTENT = '';

/** An app whose node MAC serves a site `shop` with content. */
async function appWithNode(): Promise<TestApp> {
  const app = await withApp();
  app.node(MAC);
  const content = await app.deps.content.put('shop', await tarOf({ 'index.html': 'shop' }));
  CONTENT = content.version;
  await app.cluster.change((s) => {
    s.sites['shop'] = { ...validateSite({ name: 'shop', domains: ['shop.example'] }, s), content };
    s.placement['shop'] = [MAC];
  });
  return app;
}

test('admin routes answer 401 without the admin token, or with a wrong one, and change nothing', async (t) => {
  const app = await appWithNode();
  t.teardown(app.close);
  const admin = routes(app.deps).filter((r) => r.access === 'admin');
  t.true(admin.length >= 4);
  for (const r of admin) {
    const method = r.method.toUpperCase();
    const none = await app.call(pathOf(r.path), { method, headers: { 'content-type': 'application/json' }, body: r.method === 'get' ? undefined : '{"mac":"52:54:00:00:00:bb"}' });
    t.is(none.status, 401, `${method} ${r.path} without a token`);
    const wrong = await app.call(pathOf(r.path), { method, headers: { authorization: `Bearer ${'b'.repeat(64)}` } });
    t.is(wrong.status, 401, `${method} ${r.path} with a wrong token`);
    const ok = await app.call(pathOf(r.path), { method, admin: true, headers: { 'content-type': 'application/json' }, body: r.method === 'get' ? undefined : '{"mac":"52:54:00:00:00:cc"}' });
    t.not(ok.status, 401, `${method} ${r.path} with the token`);
  }
  t.false(app.cluster.list().some((e) => e.mac === '52:54:00:00:00:bb'), 'nothing was enrolled by the refused calls');
});

test('node routes answer 403 to another host on the LAN, and to the node without its secret or with a wrong one', async (t) => {
  const app = await appWithNode();
  t.teardown(app.close);
  const nodeRoutes = routes(app.deps).filter((r) => r.access === 'node' || r.access === 'node-address');
  t.true(nodeRoutes.length >= 4);
  for (const r of nodeRoutes) {
    const method = r.method.toUpperCase();
    const body = r.method === 'post' ? 'stage=init-done' : undefined;
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const stranger = await app.call(pathOf(r.path), { method, from: STRANGER, headers, body, asNode: MAC });
    t.is(stranger.status, 403, `${method} ${r.path} from another address, even with the right secret`);
    if (r.access === 'node') {
      t.is((await app.call(pathOf(r.path), { method, headers, body })).status, 403, `${method} ${r.path} without the secret`);
      t.is((await app.call(pathOf(r.path), { method, headers: { ...headers, authorization: `Bearer ${'0'.repeat(64)}` }, body })).status, 403, `${method} ${r.path} with a wrong secret`);
      t.is((await app.call(pathOf(r.path), { method, headers: { ...headers, authorization: `Bearer ${app.secretOf('52:54:00:00:00:bb')}` }, body })).status, 403, `${method} ${r.path} with another node's secret`);
    }
    const own = await app.call(pathOf(r.path), { method, headers, body, asNode: MAC });
    t.not(own.status, 403, `${method} ${r.path} from the node itself`);
  }
  t.false(app.deps.nodes.get(MAC)?.events.some((e) => e.stage === 'init-done' && e.detail.includes(STRANGER)), 'the stranger posted no event');
});

test('a MAC the controller never saw gets 403 on node routes, and nothing is recorded for it', async (t) => {
  const app = await appWithNode();
  t.teardown(app.close);
  const res = await app.call('/api/boot/52:54:00:00:00:ee');
  t.is(res.status, 403);
  t.is(app.deps.nodes.get('52:54:00:00:00:ee'), undefined);
});

test('public routes need nothing: boot artifacts and the health probe', async (t) => {
  const app = await appWithNode();
  t.teardown(app.close);
  for (const r of routes(app.deps).filter((x) => x.access === 'public')) {
    const res = await app.call(pathOf(r.path), { from: STRANGER });
    t.false(res.status === 401 || res.status === 403, `${r.path}: ${res.status}`);
  }
});

test('docs/http-api.md lists every route with its access, and nothing else', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const doc = await readFile('docs/http-api.md', 'utf8');
  const documented = [...doc.matchAll(/^\| `(GET|POST|DELETE|PUT) ([^`?\s[]+)[^`]*` \| (public|node-address|node|admin) \|/gm)]
    .map((m) => `${m[1]} ${(m[2] ?? '').replace(/<([a-z]+)>/g, ':$1')} ${m[3]}`);
  const served = routes(app.deps).map((r) => `${r.method.toUpperCase()} ${r.path.replace('*path', ':path')} ${r.access}`);
  t.deepEqual([...documented].sort(), [...served].sort());
});

test('/metrics is public by default and an admin route with metrics.requireToken (the table takes the config\'s word)', async (t) => {
  const metrics = new ControllerMetrics();
  const hooks = (requireToken: boolean) => ({ render: () => metrics.render(), httpRequest: () => undefined, requireToken });
  const open = await withApp({ over: { metrics: hooks(false) } });
  t.teardown(open.close);
  t.is(routes(open.deps).find((r) => r.path === '/metrics')?.access, 'public');
  t.is((await open.call('/metrics', { from: STRANGER })).status, 200);
  const locked = await withApp({ over: { metrics: hooks(true) } });
  t.teardown(locked.close);
  t.is(routes(locked.deps).find((r) => r.path === '/metrics')?.access, 'admin');
  t.is((await locked.call('/metrics', { from: STRANGER })).status, 401);
  t.is((await locked.call('/metrics', { from: STRANGER, headers: { authorization: `Bearer ${'b'.repeat(64)}` } })).status, 401);
  t.is((await locked.call('/metrics', { admin: true })).status, 200);
  const doc = await readFile('docs/http-api.md', 'utf8');
  t.regex(doc, /^\| `GET \/metrics` \| public \|.*`metrics\.requireToken: true`.*admin/m, 'the doc says when it becomes an admin route');
});
