import test from 'ava';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { BootImage } from '../../src/images/boot-image.js';
import { withApp } from '../helpers/app.js';

const MAC = '52:54:00:00:00:aa';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const BASE = Buffer.from('pretend base layer');
const TOP = Buffer.from('pretend image layer');

/** A boot set from before layers: root.squashfs in its own folder. */
async function legacyImage(): Promise<BootImage> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-img-'));
  const root = Buffer.from('pretend squashfs');
  await writeFile(join(dir, 'root.squashfs'), root);
  await writeFile(join(dir, 'vmlinuz'), 'k');
  await mkdir(join(dir, 'rpi'));
  await writeFile(join(dir, 'rpi', 'start4.elf'), 'fw');
  return {
    name: 'tiny-web', version: 'abc123def456', arch: 'amd64', dir,
    files: { 'root.squashfs': { sha256: sha(root), size: root.length } },
  };
}

/** A layered boot set: its folder and the store's `.layers/` holding both its layers. */
async function fakeImage(): Promise<BootImage & { layersDir: string }> {
  const image = await legacyImage();
  const layersDir = join(image.dir, '..', '.layers');
  await mkdir(layersDir, { recursive: true });
  for (const b of [BASE, TOP]) await writeFile(join(layersDir, `${sha(b)}.squashfs`), b);
  return {
    ...image, files: { vmlinuz: { sha256: sha(Buffer.from('k')), size: 1 } }, layersDir,
    layers: [{ role: 'base', sha256: sha(BASE), size: BASE.length }, { role: 'image', sha256: sha(TOP), size: TOP.length }],
  };
}

function parse(text: string): Record<string, string> {
  return Object.fromEntries(text.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
}

test('/api/boot/:mac gives the initramfs key=value boot info: the layers of one build in order, overlay checksum and the node secret', async (t) => {
  const image = await fakeImage();
  const app = await withApp({ policy: { defaultImage: 'tiny-web', findImage: () => image } });
  t.teardown(app.close);
  app.node(MAC);
  const res = await app.call('/api/boot/52-54-00-00-00-AA');
  t.is(res.status, 200);
  t.deepEqual(res.text.split('\n').filter((l) => l.startsWith('layer=')), [
    `layer=http://198.18.0.1:8080/layers/${sha(BASE)}.squashfs ${sha(BASE)} ${BASE.length}`,
    `layer=http://198.18.0.1:8080/layers/${sha(TOP)}.squashfs ${sha(TOP)} ${TOP.length}`,
  ], 'base first, then the image layer');
  t.notRegex(res.text, /^squashfs_/m, 'no single-root keys for a layered image');
  const overlay = Buffer.from(`overlay for ${MAC}`);
  t.like(parse(res.text), {
    hostname: 'node-5254000000aa',
    image: 'tiny-web',
    version: 'abc123def456',
    overlay_url: `http://198.18.0.1:8080/overlay/${MAC}`,
    overlay_sha256: createHash('sha256').update(overlay).digest('hex'),
    overlay_size: String(overlay.length),
    node_secret: app.secretOf(MAC),
    init: '/sbin/init',
  });
  t.regex(parse(res.text)['node_secret'] ?? '', /^[0-9a-f]{64}$/);
  t.is(app.deps.nodes.get(MAC)?.image, 'tiny-web@abc123def456');
});

test('a boot set built before layers is named with the single-root keys its own initramfs reads', async (t) => {
  const image = await legacyImage();
  const app = await withApp({ policy: { defaultImage: 'tiny-web', findImage: () => image } });
  t.teardown(app.close);
  app.node(MAC);
  const res = await app.call(`/api/boot/${MAC}`);
  t.like(parse(res.text), {
    squashfs_url: 'http://198.18.0.1:8080/images/tiny-web/abc123def456/root.squashfs',
    squashfs_sha256: image.files['root.squashfs']?.sha256,
    squashfs_size: '16',
  });
  t.notRegex(res.text, /^layer=/m);
});

test('layers are served from the store\'s .layers folder with Range; only sha256-named files, nothing else', async (t) => {
  const image = await fakeImage();
  const app = await withApp({ over: { layersDir: image.layersDir } });
  t.teardown(app.close);
  const whole = await app.call(`/layers/${sha(BASE)}.squashfs`);
  t.is(whole.status, 200);
  t.is(whole.text, BASE.toString());
  const part = await app.call(`/layers/${sha(TOP)}.squashfs`, { headers: { range: 'bytes=8-12' } });
  t.is(part.status, 206);
  t.is(part.text, 'image');
  await writeFile(join(image.layersDir, 'notes.txt'), 'x');
  for (const path of [`/layers/${'0'.repeat(64)}.squashfs`, '/layers/notes.txt', `/layers/${sha(BASE).toUpperCase()}.squashfs`, '/layers/..%2Fvmlinuz']) {
    t.is((await app.call(path)).status, 404, path);
  }
});

test('/api/boot/:mac is 404 when no image is assigned, 403 while the machine is pending', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  app.node(MAC);
  t.is((await app.call(`/api/boot/${MAC}`)).status, 404);
  app.node('dc:a6:32:00:00:01', { firmware: 'rpi', ip: '127.0.0.1' });
  t.is((await app.call('/api/boot/dc:a6:32:00:00:01')).status, 403);
});

test('image files are served from the store with Range, and the boot script boots the image', async (t) => {
  const image = await fakeImage();
  const app = await withApp({
    policy: { defaultImage: 'tiny-web', findImage: () => image },
    over: { imageDir: (n, v) => (n === image.name && v === image.version ? image.dir : undefined) },
  });
  t.teardown(app.close);
  app.node(MAC);
  const part = await app.call('/images/tiny-web/abc123def456/root.squashfs', { headers: { range: 'bytes=0-6' } });
  t.is(part.status, 206);
  t.is(part.text, 'pretend');
  t.is((await app.call('/images/tiny-web/abc123def456/rpi/start4.elf')).status, 200);
  t.is((await app.call('/images/tiny-web/000000000000/vmlinuz')).status, 404);
  t.is((await app.call('/images/tiny-web/abc123def456/..%2F..%2Fetc%2Fpasswd')).status, 404);
  const script = (await app.call(`/boot.ipxe?mac=${MAC}`)).text;
  t.regex(script, /^kernel --name vmlinuz http:\/\/198\.18\.0\.1:8080\/images\/tiny-web\/abc123def456\/vmlinuz\?mac=52:54:00:00:00:aa \$\{bf-initrds\} console=ttyS0 panic=10 bootfleet\.controller=http:\/\/198\.18\.0\.1:8080 \|\| goto failed$/m);
  t.regex(script, /^initrd --name initrd\.img http:\/\/198\.18\.0\.1:8080\/images\/tiny-web\/abc123def456\/initrd\.img\?mac=52:54:00:00:00:aa \|\| goto failed$/m);
});

test('nodes post boot events with their secret; unknown stages are refused', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  app.node(MAC);
  const post = (body: string) => app.call(`/api/nodes/${MAC}/events`, { method: 'POST', asNode: MAC, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  t.is((await post('stage=verified&detail=sha256%20ok')).status, 204);
  const refused = await post('stage=launched-rockets');
  t.is(refused.status, 400);
  t.regex(refused.text, /^unknown stage "launched-rockets": one of dhcp, tftp, /);
  t.is((await app.call('/api/nodes/zz/events', { method: 'POST', body: 'stage=verified' })).status, 400);
  t.deepEqual(app.deps.nodes.get(MAC)?.events.map((e) => [e.stage, e.detail]), [['verified', 'sha256 ok']]);
});

test('an address event must come from the address it reports; one without an address, or from elsewhere, is refused', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  // The controller saw the new lease (its own ACK, or the node's REQUEST in proxy mode) first.
  app.node(MAC, { ip: '127.0.0.1' });
  const post = (body: string) => app.call(`/api/nodes/${MAC}/events`, { method: 'POST', asNode: MAC, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  t.is((await post('stage=address&detail=127.0.0.1/8+eth0+was+198.18.0.101/24')).status, 204);
  t.deepEqual(app.deps.nodes.get(MAC)?.events.at(-1), { stage: 'address', at: app.deps.nodes.get(MAC)?.lastSeen, detail: '127.0.0.1/8 eth0 was 198.18.0.101/24' });
  for (const bad of ['', 'eth0 198.18.0.9', '198.18.0.256/24', '198.18.0.9/33', '198.18.0.9x', '198.18.0.150/24 eth0']) {
    const res = await post(`stage=address&detail=${encodeURIComponent(bad)}`);
    t.is(res.status, 400, bad);
    t.regex(res.text, /^stage "address" needs detail=<ipv4>/);
  }
  t.is(app.deps.nodes.get(MAC)?.ip, '127.0.0.1', 'a refused report changes nothing');
  t.is(app.deps.nodes.get(MAC)?.events.length, 1);
});

test('/overlay/:mac answers the node (with its secret) with the tar the controller renders for it', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  app.node(MAC);
  const res = await app.call(`/overlay/${MAC}`, { asNode: MAC });
  t.is(res.headers['content-type'], 'application/x-tar');
  t.is(res.text, `overlay for ${MAC}`);
});

test('the boot script puts an arm64 UEFI node\'s console on its PL011 (ttyAMA0), a PC\'s on ttyS0', async (t) => {
  const image = await fakeImage();
  const app = await withApp({ policy: { defaultImage: 'tiny-web', findImage: () => image } });
  t.teardown(app.close);
  app.node(MAC, { firmware: 'efi-arm64' });
  t.regex((await app.call(`/boot.ipxe?mac=${MAC}`)).text, /^kernel .* console=ttyAMA0 /m);
  app.node(MAC, { firmware: 'efi-x64' });
  t.regex((await app.call(`/boot.ipxe?mac=${MAC}`)).text, /^kernel .* console=ttyS0 /m);
});

test('the CPU a node reports in its boot info request names its build from then on (its overlay too)', async (t) => {
  const builds = { amd64: await fakeImage(), arm64: { ...(await fakeImage()), version: 'abc123def456-arm64', arch: 'arm64' } };
  const seen: string[] = [];
  const app = await withApp({
    policy: { defaultImage: 'tiny-web', findImage: (_ref, arch) => builds[arch] },
    over: { nodeOverlay: async (spec) => {
      seen.push(spec.image?.version ?? '');
      return Buffer.from('x');
    } },
  });
  t.teardown(app.close);
  app.node(MAC, { firmware: 'bios' });
  const info = parse((await app.call(`/api/boot/${MAC}?arch=aarch64`)).text);
  t.is(info['version'], 'abc123def456-arm64');
  t.is((await app.call(`/overlay/${MAC}`, { asNode: MAC })).status, 200);
  t.deepEqual(seen, ['abc123def456-arm64', 'abc123def456-arm64'], 'the overlay describes the build the node was handed');
});
