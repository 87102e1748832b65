import test from 'ava';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { BootImage } from '../../src/images/boot-image.js';
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
  t.regex(script, /^kernel --name vmlinuz http:\/\/198\.18\.0\.1:8080\/images\/tiny-web\/abc123def456\/vmlinuz\?mac=52:54:00:00:00:aa \$\{bf-initrds\} console=ttyS0 panic=10 bootfleet\.controller=http:\/\/198\.18\.0\.1:8080$/m);
  t.regex(script, /^initrd --name initrd\.img http:\/\/198\.18\.0\.1:8080\/images\/tiny-web\/abc123def456\/initrd\.img\?mac=52:54:00:00:00:aa$/m);
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

test('/overlay/:mac answers with the tar the controller renders for that node', async (t) => {
  const app = await withApp({ nodeOverlay: async (mac) => Buffer.from(`tar for ${mac}`) });
  t.teardown(app.close);
  const res = await fetch(`${app.base}/overlay/${MAC}`);
  t.is(res.headers.get('content-type'), 'application/x-tar');
  t.is(await res.text(), `tar for ${MAC}`);
});

test('the boot script puts an arm64 UEFI node\'s console on its PL011 (ttyAMA0), a PC\'s on ttyS0', async (t) => {
  const image = await fakeImage();
  const app = await withApp({ imageFor: async () => image });
  t.teardown(app.close);
  app.deps.nodes.see(MAC, { firmware: 'efi-arm64' });
  const arm = await (await fetch(`${app.base}/boot.ipxe?mac=${MAC}`)).text();
  t.regex(arm, /^kernel .* console=ttyAMA0 /m);
  app.deps.nodes.see(MAC, { firmware: 'efi-x64' });
  const pc = await (await fetch(`${app.base}/boot.ipxe?mac=${MAC}`)).text();
  t.regex(pc, /^kernel .* console=ttyS0 /m);
});
