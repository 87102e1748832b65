import test from 'ava';
import { withApp, ADMIN_TOKEN, type TestApp, type CallInit } from '../helpers/app.js';
import { validateSite } from '../../src/cluster/sites.js';
import { safeNext } from '../../src/ui/login.js';
import { validateEnrollment } from '../../src/cluster/enrollment.js';
import type { StoredImage } from '../../src/images/store.js';
import { BalancerHistory } from '../../src/controller/balancer-history.js';

// The web UI against the real app: login and session, the CSRF check, each page rendered from
// the controller's state, the event stream, and the static files.

const PENDING = '52:54:00:00:00:aa';
const READY = '52:54:00:00:00:bb';

/** Logs in through the form and returns the session cookie (`bootfleet_session=…`). */
async function login(app: TestApp): Promise<string> {
  const res = await app.call('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ADMIN_TOKEN}&next=%2Fui%2Fsites` });
  const cookie = String(res.headers['set-cookie'] ?? '');
  const m = /^(bootfleet_session=[^;]+);/.exec(cookie);
  if (!m?.[1]) throw new Error(`no session cookie: ${res.status} ${cookie}`);
  return m[1];
}

function asBrowser(app: TestApp, cookie: string, init: CallInit = {}): CallInit {
  return { ...init, headers: { cookie, accept: 'text/html', origin: app.base, ...init.headers } };
}

async function fleetApp(opts: Parameters<typeof withApp>[0] = {}): Promise<TestApp> {
  // PCs need approval here, so a new one waits as pending.
  const app = await withApp({ ...opts, policy: { admit: { rpi: 'approve', pc: 'approve' }, ...opts.policy } });
  app.node(PENDING, { ip: '198.18.0.110' });
  app.deps.nodes.record(PENDING, 'dhcp', 'DISCOVER from bios: pending');
  await app.cluster.add(validateEnrollment({ mac: READY, hostname: 'web1' }));
  app.node(READY, { ip: '127.0.0.1', image: 'tiny-web@0123456789ab-amd64' });
  for (const stage of ['dhcp', 'tftp', 'kernel', 'initramfs', 'rootfs-fetched', 'init-done'] as const) app.deps.nodes.record(READY, stage, '');
  return app;
}

test('a browser without a session is sent to the login form; API calls get 401', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const page = await app.call('/ui/fleet', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  t.is(page.status, 303);
  t.is(page.headers['location'], '/login?next=%2Fui%2Ffleet');
  t.is((await app.call('/ui/fleet')).status, 401, 'no Accept: text/html, no redirect');
  t.is((await app.call('/api/nodes', { headers: { accept: 'text/html' } })).status, 401, 'API routes never redirect');
  const form = await app.call('/login?next=%2Fui%2Fsites');
  t.is(form.status, 200);
  t.regex(form.text, /<label for="token">Admin token<\/label>/);
  t.regex(form.text, /name="next" value="\/ui\/sites"/);
});

test('logging in with the admin token sets a strict, HttpOnly session cookie that opens the pages; a wrong token does not', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const wrong = await app.call('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${'b'.repeat(64)}` });
  t.is(wrong.status, 401);
  t.is(wrong.headers['set-cookie'], undefined);
  t.regex(wrong.text, /role="alert"[^>]*>That is not the admin token/);
  const ok = await app.call('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ADMIN_TOKEN}&next=%2Fui%2Fsites` });
  t.is(ok.status, 303);
  t.is(ok.headers['location'], '/ui/sites');
  const cookie = String(ok.headers['set-cookie']);
  t.regex(cookie, /^bootfleet_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
  const session = await login(app);
  t.is((await app.call('/ui/fleet', asBrowser(app, session))).status, 200);
  t.is((await app.call('/api/nodes', asBrowser(app, session))).status, 200, 'the cookie works for the JSON API too');
  t.is((await app.call('/api/nodes', { headers: { cookie: 'bootfleet_session=forged' } })).status, 401);
});

test('logout ends the session: the same cookie is refused afterwards', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const cookie = await login(app);
  const out = await app.call('/logout', asBrowser(app, cookie, { method: 'POST' }));
  t.is(out.status, 303);
  t.is(out.headers['location'], '/login');
  t.regex(String(out.headers['set-cookie']), /^bootfleet_session=; .*Max-Age=0/);
  t.is((await app.call('/api/nodes', { headers: { cookie } })).status, 401);
});

test('CSRF: a change made with the session cookie must come from this controller (Origin), a token call need not', async (t) => {
  const app = await fleetApp();
  t.teardown(app.close);
  const cookie = await login(app);
  const approve = (headers: Record<string, string>): Promise<number> => app.call(`/api/nodes/${PENDING}/approve`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' }).then((r) => r.status);
  t.is(await approve({ cookie }), 403, 'no Origin or Referer');
  t.is(await approve({ cookie, origin: 'http://evil.example' }), 403, 'another origin');
  t.is(await approve({ cookie, origin: 'null' }), 403, 'an opaque origin');
  t.is(await approve({ cookie, referer: 'http://evil.example/ui/fleet' }), 403, 'another site as Referer');
  t.false(app.cluster.list().some((e) => e.mac === PENDING), 'none of them approved the node');
  t.is(await approve({ cookie, origin: app.base }), 201, 'from the UI itself');
  t.is((await app.call(`/api/nodes/${PENDING}/settings`, { method: 'POST', admin: true, headers: { 'content-type': 'application/json' }, body: '{"admin":"drain"}' })).status, 200, 'the CLI (bearer token) sends no Origin');
  t.is((await app.call('/api/nodes', { headers: { cookie, origin: 'http://evil.example' } })).status, 200, 'reads are not changes (and SameSite keeps the cookie off other sites anyway)');
});

test('after login, only a path on this controller is a place to go (no open redirect)', (t) => {
  t.is(safeNext('/ui/images'), '/ui/images');
  t.is(safeNext('//evil.example/x'), '/ui/fleet');
  t.is(safeNext('/\\evil.example'), '/ui/fleet');
  t.is(safeNext('https://evil.example'), '/ui/fleet');
  t.is(safeNext('/login'), '/ui/fleet');
  t.is(safeNext(undefined), '/ui/fleet');
});

test('the Fleet page lists each node with its state, image, last boot and the actions that apply', async (t) => {
  const app = await fleetApp();
  t.teardown(app.close);
  const cookie = await login(app);
  const res = await app.call('/ui/fleet', asBrowser(app, cookie));
  t.is(res.status, 200);
  t.regex(String(res.headers['content-security-policy']), /script-src 'self'/);
  const html = res.text;
  const row = (mac: string): string => new RegExp(`<tr id="node-${mac.replace(/:/g, '-')}"[\\s\\S]*?</tr>`).exec(html)?.[0] ?? '';
  t.regex(row(PENDING), /data-state="pending"/);
  t.regex(row(PENDING), /<button type="button" id="approve-52-54-00-00-00-aa" data-action="approve" data-mac="52:54:00:00:00:aa" aria-label="Approve node-5254000000aa">Approve<\/button>/);
  t.regex(row(PENDING), /no boot seen/);
  t.regex(row(READY), /<span class="name">web1<\/span>/);
  t.regex(row(READY), /<code>tiny-web@0123456789ab-amd64<\/code>/);
  t.regex(row(READY), /<ol class="timeline" aria-label="Last boot of web1"><li class="reached">DHCP <span>start<\/span><\/li><li class="reached">TFTP/);
  t.regex(row(READY), /<li class="reached">ready <span>\d+ ms<\/span>/);
  t.notRegex(row(READY), /data-action="approve"/);
  t.regex(html, /2 nodes, 0 ready, 1 waiting for approval/);
  t.regex(html, /<a class="skip" href="#main">Skip to content<\/a>/);
  t.regex(html, /<a href="\/ui\/fleet" aria-current="page">Fleet<\/a>/);
  const part = await app.call('/ui/fleet?part=main', asBrowser(app, cookie));
  t.true(part.text.trimStart().startsWith('<section aria-labelledby="nodes-h" data-live="fleet">'), 'the live part has no layout');
});

test('names from the network are escaped on every page', async (t) => {
  const app = await fleetApp();
  t.teardown(app.close);
  // What a node reports about itself is text from the network.
  app.deps.nodes.record(READY, 'verify-failed', '<img src=x onerror=alert(1)>');
  const cookie = await login(app);
  const html = (await app.call('/ui/fleet', asBrowser(app, cookie))).text;
  t.false(html.includes('<img src=x'));
  t.true(html.includes('verify-failed: &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;'));
});

test('the Sites page shows each site with its domains, nodes and a way to assign it; the form labels every input', async (t) => {
  const app = await fleetApp();
  t.teardown(app.close);
  await app.cluster.change((s) => {
    s.sites['shop'] = validateSite({ name: 'shop', domains: ['shop.example', 'www.shop.example'], minReplicas: 1, maxReplicas: 3 }, s);
    s.placement['shop'] = [READY];
    s.sites['shop'].pinned = [READY];
  });
  const cookie = await login(app);
  const html = (await app.call('/ui/sites', asBrowser(app, cookie))).text;
  t.regex(html, /<tr id="site-shop" data-site="shop">/);
  t.regex(html, /shop\.example, www\.shop\.example/);
  t.regex(html, /<li>web1: <span class="health">not checked yet<\/span><\/li>/);
  t.regex(html, /<select id="assign-shop" name="node">\s*<option value="52:54:00:00:00:bb">web1 \(52:54:00:00:00:bb\)<\/option>\s*<\/select>/, 'only admitted nodes are offered');
  t.regex(html, /aria-label="Unpin shop from web1"/);
  assertLabelled(t, html);
});

test('the Images page lists versions with their size (files and root layers) and the nodes running them', async (t) => {
  const image: StoredImage = {
    id: '0123456789ab-amd64', dir: '/nowhere',
    manifest: {
      name: 'tiny-web', version: '0123456789ab', arch: 'amd64', recipeHash: 'r', buildTime: '2025-01-01T12:00:00.000Z', kernelVersion: '6.1.0-28-amd64',
      files: { vmlinuz: { sha256: 'a', size: 3 * 1048576 } },
      layers: [{ role: 'base', sha256: 'b', size: 768 * 1024 }, { role: 'image', sha256: 'c', size: 256 * 1024 }],
    },
  };
  const app = await fleetApp({ over: { images: () => [image] } });
  t.teardown(app.close);
  const cookie = await login(app);
  const html = (await app.call('/ui/images', asBrowser(app, cookie))).text;
  t.regex(html, /<tr data-image="tiny-web@0123456789ab-amd64">[\s\S]*?<td>4\.0 MiB<\/td>\s*<td>web1<\/td>/);
  t.regex(html, /<option value="tiny-web@0123456789ab-amd64">/);
  t.regex(html, /<section aria-labelledby="rollout-h" id="rollout"/);
  assertLabelled(t, html);
});

test('the Balancer page shows the latest rates as text beside the graphs; /api/stats serves the series', async (t) => {
  const history = new BalancerHistory();
  const t0 = Math.floor(Date.now() / 5000) * 5000 - 20_000;
  history.add(t0, new Map([['shop', { requests: 0, errors: 0 }]]), new Map([[READY, { requests: 0, errors: 0 }]]));
  history.add(t0 + 6000, new Map([['shop', { requests: 50, errors: 5 }]]), new Map([[READY, { requests: 50, errors: 5 }]]));
  const app = await fleetApp({ over: { balancerHistory: () => history.view() } });
  t.teardown(app.close);
  const cookie = await login(app);
  const html = (await app.call('/ui/balancer', asBrowser(app, cookie))).text;
  t.regex(html, /<tr data-site="shop"><th scope="row">site shop<\/th><td>10\.0\/s<\/td><td>1\.0\/s<\/td><\/tr>/);
  t.regex(html, /<th scope="row">node web1<\/th>/);
  t.regex(html, /<script src="\/ui\/vendor\/uPlot\.iife\.min\.js" defer><\/script>/);
  const stats = JSON.parse((await app.call('/api/stats', { admin: true })).text) as { t: number[]; sites: Record<string, { requests: number[] }> };
  t.is(stats.t.length, 2);
  t.deepEqual(stats.sites['shop']?.requests, [0, 10]);
});

test('/api/stream sends the state as a server-sent event', async (t) => {
  const app = await fleetApp();
  t.teardown(app.close);
  const res = await app.call('/api/stream?once', { admin: true });
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), /^text\/event-stream/);
  const data = /^event: state\ndata: (.*)$/m.exec(res.text)?.[1] ?? '';
  const state = JSON.parse(data) as { generation: number; nodes: Array<{ mac: string; status: string }>; sites: unknown[]; images: unknown[] };
  t.deepEqual(state.nodes.map((n) => [n.mac, n.status]), [[PENDING, 'pending'], [READY, 'admitted']]);
  t.deepEqual(state.sites, []);
  t.false('rollout' in state, 'no rollout field unless the controller provides one');
});

test('/api/stream sends a new event when the cluster changes', async (t) => {
  const app = await fleetApp();
  t.teardown(app.close);
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  const res = await fetch(`${app.base}/api/stream`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: controller.signal });
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let text = '';
  const events = (): string[] => [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1] ?? '');
  while (events().length < 1) text += decoder.decode((await reader.read()).value);
  await app.cluster.change((s) => {
    s.sites['blog'] = validateSite({ name: 'blog', domains: ['blog.example'] }, s);
  });
  while (events().length < 2) text += decoder.decode((await reader.read()).value);
  const second = JSON.parse(events()[1] ?? '') as { sites: Array<{ name: string }> };
  t.deepEqual(second.sites.map((s) => s.name), ['blog']);
});

test('static files: our scripts and uPlot are served to anyone; nothing else is', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const live = await app.call('/ui/static/live.js', { from: '127.0.0.2' });
  t.is(live.status, 200);
  t.regex(String(live.headers['content-type']), /javascript/);
  t.regex(live.text, /new EventSource\('\/api\/stream'\)/);
  const uplot = await app.call('/ui/vendor/uPlot.iife.min.js');
  t.is(uplot.status, 200);
  t.regex(uplot.text, /uPlot/);
  t.is((await app.call('/ui/vendor/package.json')).status, 404);
  t.is((await app.call('/ui/static/..%2F..%2Fpackage.json')).status, 404);
  t.is((await app.call('/ui/static/missing.js')).status, 404);
});

/** Every visible input and select has a <label for> naming it (the accessibility rule the Chromium test checks in the live DOM too). */
function assertLabelled(t: { true: (v: boolean, m?: string) => void }, html: string): void {
  const controls = [...html.matchAll(/<(input|select)\b([^>]*)>/g)].filter((m) => !/type="hidden"/.test(m[2] ?? ''));
  t.true(controls.length > 0, 'there are controls');
  for (const c of controls) {
    const id = /\bid="([^"]+)"/.exec(c[2] ?? '')?.[1];
    t.true(id !== undefined && html.includes(`<label for="${id}">`), `${c[0]} has a label`);
  }
}
