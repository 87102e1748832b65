import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { ADMIN_TOKEN, withApp } from '../helpers/app.js';
import { tarOf } from '../helpers/tar.js';
import { validateSite } from '../../src/cluster/sites.js';
import { peerContent } from '../../src/controller/peer-content.js';
import { silentLogger } from '../../src/log.js';
import type { TestApp } from '../helpers/app.js';
import type { SiteContent } from '../../src/cluster/model.js';

// Two controllers of one etcd share the cluster state but not their content folders: content
// uploaded through one is fetched by the other when a node asks it (src/controller/peer-content.ts).

const MAC = '52:54:00:00:00:cc';

/** `shop` placed on MAC with `content` in this app's cluster state. */
async function place(app: TestApp, content: SiteContent): Promise<void> {
  await app.cluster.change((s) => {
    s.sites['shop'] = { ...validateSite({ name: 'shop', domains: ['shop.example'] }, s), port: 8081, content };
    s.placement['shop'] = [MAC];
  });
}

/** Another controller's app whose content misses are fetched from `a`. */
async function peerOf(a: TestApp): Promise<TestApp> {
  const holder: { fetch?: (site: string, content: SiteContent) => Promise<boolean> } = {};
  const b = await withApp({ over: { fetchContent: (site, content) => holder.fetch?.(site, content) ?? Promise.resolve(false) } });
  holder.fetch = peerContent({ content: b.deps.content, peers: () => [a.base], adminToken: ADMIN_TOKEN, log: silentLogger() });
  return b;
}

test('a node asking the controller that lacks the content gets it: fetched from the one it was uploaded to, checked against the shared sha256', async (t) => {
  const a = await withApp();
  t.teardown(a.close);
  const stored = await a.deps.content.put('shop', await tarOf({ 'index.html': 'from a' }));
  await place(a, stored);
  const b = await peerOf(a);
  t.teardown(b.close);
  await place(b, stored);
  b.node(MAC);
  const r = await b.call(`/api/nodes/${MAC}/sites/shop/${stored.version}`, { asNode: MAC });
  t.is(r.status, 200);
  t.is(r.body.length, stored.size);
  t.is((await b.deps.content.read('shop', stored.version)).length, stored.size, 'kept: the next node is served from b itself');
});

test('content from a peer that does not match the cluster state is refused; the node gets 503 and nothing is stored', async (t) => {
  const a = await withApp();
  t.teardown(a.close);
  const real = await a.deps.content.put('shop', await tarOf({ 'index.html': 'real' }));
  await place(a, real);
  // a holds other bytes under the version the shared state names.
  await writeFile(a.deps.content.file('shop', real.version), await tarOf({ 'index.html': 'forged' }));
  const b = await peerOf(a);
  t.teardown(b.close);
  await place(b, real);
  b.node(MAC);
  t.is((await b.call(`/api/nodes/${MAC}/sites/shop/${real.version}`, { asNode: MAC })).status, 503);
  await t.throwsAsync(b.deps.content.read('shop', real.version));
});

test('the content route is the admin\'s: without the token a peer or node gets nothing', async (t) => {
  const a = await withApp();
  t.teardown(a.close);
  const stored = await a.deps.content.put('shop', await tarOf({ 'index.html': 'x' }));
  await place(a, stored);
  a.node(MAC);
  t.is((await a.call(`/api/sites/shop/content/${stored.version}`)).status, 401);
  t.is((await a.call(`/api/sites/shop/content/${stored.version}`, { asNode: MAC })).status, 401);
  t.is((await a.call(`/api/sites/shop/content/${stored.version}`, { admin: true })).status, 200);
  t.is((await a.call('/api/sites/shop/content/000000000000', { admin: true })).status, 404);
});
