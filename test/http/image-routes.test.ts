import test from 'ava';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { BootImage } from '../../src/http/app.js';
import { withApp } from '../helpers/app.js';

const MAC = '52:54:00:00:00:aa';

async function fakeImage(): Promise<BootImage> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-img-'));
  const root = Buffer.from('pretend squashfs');
  await writeFile(join(dir, 'root.squashfs'), root);
  await writeFile(join(dir, 'vmlinuz'), 'k');
  await mkdir(join(dir, 'rpi'));
  await writeFile(join(dir, 'rpi', 'start4.elf'), 'fw');
  return {
    name: 'tiny-web', version: 'abc123def456', dir,
    files: { 'root.squashfs': { sha256: createHash('sha256').update(root).digest('hex'), size: root.length } },
  };
}

test('/api/boot/:mac gives the initramfs key=value boot info for the assigned image', async (t) => {
  const image = await fakeImage();
  const app = await withApp({ imageFor: async () => image });
  t.teardown(app.close);
  const text = await (await fetch(`${app.base}/api/boot/52-54-00-00-00-AA`)).text();
  const info = Object.fromEntries(text.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  t.like(info, {
    hostname: 'node-5254000000aa',
    image: 'tiny-web',
    version: 'abc123def456',
    squashfs_url: 'http://198.18.0.1:8080/images/tiny-web/abc123def456/root.squashfs',
    squashfs_sha256: image.files['root.squashfs']?.sha256,
    squashfs_size: '16',
    overlay_url: `http://198.18.0.1:8080/overlay/${MAC}`,
    init: '/sbin/init',
  });
  t.is(app.deps.nodes.get(MAC)?.image, 'tiny-web@abc123def456');
});

test('/api/boot/:mac is 404 when no image is assigned', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  t.is((await fetch(`${app.base}/api/boot/${MAC}`)).status, 404);
});

test('image files are served from the store with Range, and the boot script boots the image', async (t) => {
  const image = await fakeImage();
  const app = await withApp({ imageFor: async () => image, imageDir: (n, v) => (n === image.name && v === image.version ? image.dir : undefined) });
  t.teardown(app.close);
  const part = await fetch(`${app.base}/images/tiny-web/abc123def456/root.squashfs`, { headers: { range: 'bytes=0-6' } });
  t.is(part.status, 206);
  t.is(await part.text(), 'pretend');
  t.is((await fetch(`${app.base}/images/tiny-web/abc123def456/rpi/start4.elf`)).status, 200);
  t.is((await fetch(`${app.base}/images/tiny-web/000000000000/vmlinuz`)).status, 404);
  t.is((await fetch(`${app.base}/images/tiny-web/abc123def456/..%2F..%2Fetc%2Fpasswd`)).status, 404);
  const script = await (await fetch(`${app.base}/boot.ipxe?mac=${MAC}`)).text();
  t.regex(script, /^kernel http:\/\/198\.18\.0\.1:8080\/images\/tiny-web\/abc123def456\/vmlinuz\?mac=52:54:00:00:00:aa console=ttyS0 bootfleet\.controller=http:\/\/198\.18\.0\.1:8080$/m);
});

test('nodes post boot events; unknown stages are refused', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  const post = (body: string) => fetch(`${app.base}/api/nodes/${MAC}/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  t.is((await post('stage=verified&detail=sha256%20ok')).status, 204);
  const refused = await post('stage=launched-rockets');
  t.is(refused.status, 400);
  t.regex(await refused.text(), /^unknown stage "launched-rockets": one of dhcp, tftp, /);
  t.is((await fetch(`${app.base}/api/nodes/zz/events`, { method: 'POST', body: 'stage=verified' })).status, 400);
  t.deepEqual(app.deps.nodes.get(MAC)?.events.map((e) => [e.stage, e.detail]), [['verified', 'sha256 ok']]);
});

test('an address event moves the node to the address it reports; one without an address is refused', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  app.deps.nodes.see(MAC, { ip: '198.18.0.101' });
  const post = (body: string) => fetch(`${app.base}/api/nodes/${MAC}/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  t.is((await post('stage=address&detail=198.18.0.150/24+eth0+was+198.18.0.101/24')).status, 204);
  t.is(app.deps.nodes.get(MAC)?.ip, '198.18.0.150');
  t.deepEqual(app.deps.nodes.get(MAC)?.events.at(-1), { stage: 'address', at: app.deps.nodes.get(MAC)?.lastSeen, detail: '198.18.0.150/24 eth0 was 198.18.0.101/24' });
  for (const bad of ['', 'eth0 198.18.0.9', '198.18.0.256/24', '198.18.0.9/33', '198.18.0.9x']) {
    const res = await post(`stage=address&detail=${encodeURIComponent(bad)}`);
    t.is(res.status, 400, bad);
    t.regex(await res.text(), /^stage "address" needs detail=<ipv4>/);
  }
  t.is(app.deps.nodes.get(MAC)?.ip, '198.18.0.150', 'a refused report changes nothing');
  t.is(app.deps.nodes.get(MAC)?.events.length, 1);
});

test('/overlay/:mac answers with the tar the controller renders for that node', async (t) => {
  const app = await withApp({ nodeOverlay: async (mac) => Buffer.from(`tar for ${mac}`) });
  t.teardown(app.close);
  const res = await fetch(`${app.base}/overlay/${MAC}`);
  t.is(res.headers.get('content-type'), 'application/x-tar');
  t.is(await res.text(), `tar for ${MAC}`);
});
