import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Templates } from '../../src/render/templates.js';
import { withApp } from '../helpers/app.js';

test('/healthz is 200 when every service listens and 503 naming the one that does not', async (t) => {
  const up = await withApp();
  t.teardown(up.close);
  t.is((await fetch(`${up.base}/healthz`)).status, 200);
  const down = await withApp({ health: () => ({ dhcp: false, tftp: true, http: true }) });
  t.teardown(down.close);
  const res = await fetch(`${down.base}/healthz`);
  t.is(res.status, 503);
  t.deepEqual(await res.json(), { ok: false, services: { dhcp: false, tftp: true, http: true } });
});

test('/boot.ipxe renders the per-node script and records the stage', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const res = await fetch(`${app.base}/boot.ipxe?mac=52-54-00-00-00-AA`);
  const script = await res.text();
  t.is(res.status, 200);
  t.true(script.startsWith('#!ipxe\n'));
  t.regex(script, /^kernel --name vmlinuz http:\/\/198\.18\.0\.1:8080\/files\/vmlinuz\?mac=52:54:00:00:00:aa \$\{bf-initrds\} console=ttyS0$/m);
  t.regex(script, /^initrd --name initrd\.img http:\/\/198\.18\.0\.1:8080\/files\/initrd\.img\?mac=52:54:00:00:00:aa$/m);
  // UEFI: the kernel's EFI stub loads only initrds named on its command line; BIOS needs none.
  t.regex(script, /^set bf-initrds initrd=initrd\.img$/m);
  t.regex(script, /^iseq \$\{platform\} efi \|\| clear bf-initrds$/m);
  t.is(app.deps.nodes.get('52:54:00:00:00:aa')?.events.at(-1)?.stage, 'ipxe-script');
});

test('/boot.ipxe without a boot target tells the node to ask again', async (t) => {
  const app = await withApp({ bootTargetFor: () => undefined });
  t.teardown(app.close);
  const script = await (await fetch(`${app.base}/boot.ipxe?mac=52:54:00:00:00:aa`)).text();
  t.regex(script, /^chain --autofree http:\/\/198\.18\.0\.1:8080\/boot\.ipxe\?mac=52:54:00:00:00:aa$/m);
});

test('/boot.ipxe refuses a request without a valid MAC', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  t.is((await fetch(`${app.base}/boot.ipxe?mac=zz`)).status, 400);
});

test('boot files support Range and ETag, and a kernel download is a boot event', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const full = await fetch(`${app.base}/files/vmlinuz?mac=52:54:00:00:00:aa`);
  t.is(full.status, 200);
  t.is((await full.arrayBuffer()).byteLength, 10000);
  const etag = full.headers.get('etag');
  t.truthy(etag);
  const part = await fetch(`${app.base}/files/vmlinuz`, { headers: { range: 'bytes=100-199' } });
  t.is(part.status, 206);
  t.is(part.headers.get('content-range'), 'bytes 100-199/10000');
  t.is((await part.arrayBuffer()).byteLength, 100);
  const cached = await fetch(`${app.base}/files/vmlinuz`, { headers: { 'if-none-match': etag ?? '', 'cache-control': 'max-age=0' } });
  t.is(cached.status, 304);
  t.deepEqual(app.deps.nodes.get('52:54:00:00:00:aa')?.events.map((e) => e.stage), ['kernel']);
});

test('paths never escape the boot directory', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  for (const path of ['escape', '..%2Fsecret', '%2E%2E/secret', '..%5Csecret', 'missing']) {
    t.is((await fetch(`${app.base}/files/${path}`)).status, 404, path);
  }
});

test('strict templates: a variable the context lacks fails loudly, naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-tpl-'));
  await writeFile(join(dir, 'x.hbs'), 'hello {{nobody}}');
  const err = await t.throwsAsync(new Templates(dir).render('x.hbs', {}));
  t.regex(err?.message ?? '', /x\.hbs: .*"nobody" not defined/);
});

test('/api/nodes lists enrolled Pis that never booted as approved, and unjudged Pis as pending', async (t) => {
  const app = await withApp({ enrolled: async () => [{ serial: '9ffefdef', model: 'pi4', addedAt: '2026-11-25T00:00:00.000Z' }] });
  t.teardown(app.close);
  app.deps.nodes.see('dc:a6:32:00:00:01', { firmware: 'rpi', serial: '5eed0001' });
  const { nodes } = (await (await fetch(`${app.base}/api/nodes`)).json()) as { nodes: Array<{ serial?: string; status?: string }> };
  t.deepEqual(nodes.map((n) => [n.serial, n.status]), [['5eed0001', 'pending'], ['9ffefdef', 'approved']]);
});
