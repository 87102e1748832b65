import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Templates } from '../../src/render/templates.js';
import { withApp } from '../helpers/app.js';

const MAC = '52:54:00:00:00:aa';

test('/healthz is 200 when every service listens and 503 naming the one that does not', async (t) => {
  const up = await withApp();
  t.teardown(up.close);
  t.is((await up.call('/healthz')).status, 200);
  const down = await withApp({ over: { health: () => ({ dhcp: false, tftp: true, http: true }) } });
  t.teardown(down.close);
  const res = await down.call('/healthz');
  t.is(res.status, 503);
  t.deepEqual(JSON.parse(res.text), { ok: false, services: { dhcp: false, tftp: true, http: true } });
});

test('/boot.ipxe renders the per-node script from its spec and records the stage', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  app.node(MAC);
  const res = await app.call('/boot.ipxe?mac=52-54-00-00-00-AA');
  const script = res.text;
  t.is(res.status, 200);
  t.true(script.startsWith('#!ipxe\n'));
  t.regex(script, /^kernel --name vmlinuz http:\/\/198\.18\.0\.1:8080\/files\/vmlinuz\?mac=52:54:00:00:00:aa \$\{bf-initrds\} console=ttyS0 \|\| goto failed$/m);
  t.regex(script, /^initrd --name initrd\.img http:\/\/198\.18\.0\.1:8080\/files\/initrd\.img\?mac=52:54:00:00:00:aa \|\| goto failed$/m);
  // UEFI: the kernel's EFI stub loads only initrds named on its command line; BIOS needs none.
  t.regex(script, /^set bf-initrds initrd=initrd\.img$/m);
  t.regex(script, /^iseq \$\{platform\} efi \|\| clear bf-initrds$/m);
  t.is(app.deps.nodes.get(MAC)?.events.at(-1)?.stage, 'ipxe-script');
});

test('/boot.ipxe without anything to boot tells the node to ask again', async (t) => {
  const app = await withApp({ policy: { bootDefault: undefined } });
  t.teardown(app.close);
  app.node(MAC);
  const script = (await app.call(`/boot.ipxe?mac=${MAC}`)).text;
  t.regex(script, /^chain --autofree http:\/\/198\.18\.0\.1:8080\/boot\.ipxe\?mac=52:54:00:00:00:aa \|\| goto failed$/m);
  // A failed download starts the boot over from DHCP (another controller may answer).
  t.regex(script, /^:failed\n(#.*\n)*echo .*\nimgfree\nsleep 5\ndhcp \|\| goto failed\nchain --autofree \$\{filename\} \|\| goto failed$/m);
});

test('/boot.ipxe refuses a request without a valid MAC, and a pending machine gets no script', async (t) => {
  const app = await withApp({ policy: { admit: { rpi: 'approve', pc: 'approve' } } });
  t.teardown(app.close);
  t.is((await app.call('/boot.ipxe?mac=zz')).status, 400);
  app.node(MAC);
  const pending = await app.call(`/boot.ipxe?mac=${MAC}`);
  t.is(pending.status, 403);
  t.regex(pending.text, /pending: waiting for approval/);
  t.notRegex(pending.text, /kernel/);
});

test('boot files support Range and ETag, and a kernel download is a boot event of a known node', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  app.node(MAC);
  const full = await app.call(`/files/vmlinuz?mac=${MAC}`);
  t.is(full.status, 200);
  t.is(full.body.length, 10000);
  const etag = String(full.headers['etag'] ?? '');
  t.truthy(etag);
  const part = await app.call('/files/vmlinuz', { headers: { range: 'bytes=100-199' } });
  t.is(part.status, 206);
  t.is(part.headers['content-range'], 'bytes 100-199/10000');
  t.is(part.body.length, 100);
  const cached = await app.call('/files/vmlinuz', { headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' } });
  t.is(cached.status, 304);
  t.deepEqual(app.deps.nodes.get(MAC)?.events.map((e) => e.stage), ['kernel']);
  // An invented MAC is not recorded: only DHCP creates nodes.
  await app.call('/files/vmlinuz?mac=52:54:00:00:00:bb');
  t.is(app.deps.nodes.get('52:54:00:00:00:bb'), undefined);
});

test('paths never escape the boot directory', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  for (const path of ['escape', '..%2Fsecret', '%2E%2E/secret', '..%5Csecret', 'missing']) {
    t.is((await app.call(`/files/${path}`)).status, 404, path);
  }
});

test('strict templates: a variable the context lacks fails loudly, naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-tpl-'));
  await writeFile(join(dir, 'x.hbs'), 'hello {{nobody}}');
  const err = await t.throwsAsync(new Templates(dir).render('x.hbs', {}));
  t.regex(err?.message ?? '', /x\.hbs: .*"nobody" not defined/);
});

test('/api/nodes lists approved Pis that never booted, and unknown Pis as pending', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  await app.cluster.add({ serial: '9ffefdef', model: 'pi4', addedAt: '2026-11-25T00:00:00.000Z' });
  app.node('dc:a6:32:00:00:01', { firmware: 'rpi', serial: '5eed0001' });
  const { nodes } = JSON.parse((await app.call('/api/nodes', { admin: true })).text) as { nodes: Array<{ serial?: string; status?: string }> };
  t.deepEqual(nodes.map((n) => [n.serial, n.status]), [['5eed0001', 'pending'], ['9ffefdef', 'admitted']]);
});

test('node add through the admin API: validated with errors naming the flag, then the Pi is admitted', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  app.node('dc:a6:32:00:00:01', { firmware: 'rpi', serial: '5eed0001' });
  const bad = await app.call('/api/enrollment', { method: 'POST', admin: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serial: 'xyz', hostname: 'Not_A_Label' }) });
  t.is(bad.status, 400);
  t.regex(bad.text, /--serial xyz: give the last 8 hex digits/);
  t.regex(bad.text, /--hostname Not_A_Label: must be a DNS label/);
  t.deepEqual(app.cluster.list(), [], 'nothing stored on error');
  const ok = await app.call('/api/enrollment', { method: 'POST', admin: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serial: '5EED0001', hostname: 'pi-one' }) });
  t.is(ok.status, 201);
  const view = JSON.parse((await app.call('/api/nodes/dc:a6:32:00:00:01', { admin: true })).text) as { status: string; hostname: string };
  t.like(view, { status: 'admitted', hostname: 'pi-one' }, 'node add --hostname is honoured');
});
