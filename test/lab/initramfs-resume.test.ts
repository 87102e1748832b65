import test from 'ava';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { debianBusybox } from '../../src/images/debs.js';
import { requireLab, withLab } from '../helpers/lab.js';
import { CONTROLLER_PORT, IMAGE_MARKER, MAC, NODE_SECRET, bootNode, controllerSide, imageLayer, layeredBootinfo, timeline } from '../helpers/initramfs-lab.js';
import { requestsIn } from '../helpers/stand-in-controller.js';

// A node whose base layer download is cut mid-transfer resumes it with an HTTP Range request and
// boots; before it has usable boot info it sends no secret and posts nothing. Booted for real
// (QEMU TCG) against the recording stand-in controller in the lab namespace.

test('initramfs resume: boot info without a secret is only printed; a layer download cut mid-body resumes with Range and the node boots', async (t) => {
  await requireLab();
  t.timeout(200_000);
  const lab = await withLab(t);
  const cutAfter = 300_000;
  const served = await controllerSide(lab, await debianBusybox('amd64'), 'stand-in', { secret: NODE_SECRET, cut: { '/base.squashfs': cutAfter } });
  t.true(served.size > cutAfter * 2, `the base layer (${served.size} bytes) is cut well before its end`);
  await symlink(served.squashfs, join(served.www, 'base.squashfs'));
  const top = await imageLayer(served, 'top.squashfs', 'the image layer');
  // First an answer without node_secret: unusable, and nothing may be posted for it.
  const good = layeredBootinfo([{ path: 'base.squashfs', ...served }, top]);
  await writeFile(join(served.www, 'api', 'boot', MAC), good.replace(/^node_secret=.*\n/m, ''));

  const node = await bootNode(t, lab);
  await node.waitFor(/BOOTFLEET: boot info from \S+ unusable: node_secret is not 64 lowercase hex digits; retrying in \d+\.\d{3}s/, 130_000);
  await node.waitFor(/unusable: node_secret[^\n]*\n(?:[^\n]*\n)*?[^\n]*unusable: node_secret/, 60_000); // asked again after a backoff
  const before = requestsIn(served.httpd.output());
  t.true(before.length >= 2 && before.every((r) => r.method === 'GET' && r.path === `/api/boot/${MAC}` && r.authorization === null),
    `only boot info requests, none carrying a secret: ${JSON.stringify(before)}`);

  await writeFile(join(served.www, 'api', 'boot', MAC), good);
  await timeline(t, node, [
    /BOOTFLEET: fetching http:\S+\/base\.squashfs/,
    /BOOTFLEET: download of \S+ failed \(wget: connection closed prematurely\); retrying in \d+\.\d{3}s/,
    /BOOTFLEET: resuming http:\S+\/base\.squashfs at \d+ bytes/,
    new RegExp(`BOOTFLEET: layer 1/2 verified: sha256 ${served.sha256}, ${served.size} bytes`),
    new RegExp(`BOOTFLEET: layer 2/2 verified: sha256 ${top.sha256}, ${top.size} bytes`),
    new RegExp(IMAGE_MARKER),
  ], 180_000);
  t.like(await node.exited, { code: 0 }, 'the image powered off');

  const out = node.output().replace(/\r/g, '');
  const resumedAt = Number(/BOOTFLEET: resuming \S+ at (\d+) bytes/.exec(out)?.[1]);
  t.true(resumedAt > 0 && resumedAt <= cutAfter, `resumed at ${resumedAt}`);
  const squashfsGets = requestsIn(served.httpd.output()).filter((r) => r.path === '/base.squashfs');
  t.deepEqual(squashfsGets.map((r) => [r.range, r.status, r.cutAfter ?? null]), [
    [null, 200, cutAfter],
    [`bytes=${resumedAt}-`, 206, null],
  ], 'one cut download, then one Range request from where it stopped');
  t.is(out.match(/BOOTFLEET: fetching \S+\/base\.squashfs/g)?.length, 1, 'never restarted from byte 0');
  t.regex(out, /BOOTFLEET-IMAGE: layer says the image layer/);

  // Everything but the boot info comes after a usable boot info; the boot info request itself
  // (asked again after the failed download) never carries the secret: it is what hands it out.
  const requests = requestsIn(served.httpd.output());
  const bootInfo = requests.filter((r) => r.path === `/api/boot/${MAC}`);
  const others = requests.filter((r) => r.path !== `/api/boot/${MAC}`);
  t.true(bootInfo.every((r) => r.authorization === null));
  t.is(others.length, 8, 'two GETs of the base, one of the image layer, and five events');
  t.true(others.every((r) => r.authorization === `Bearer ${NODE_SECRET}` && r.status !== 403), 'every request after the boot info carried the secret');
  t.true(requests.every((r) => r.authorization === null || r.authorization === `Bearer ${NODE_SECRET}`), 'no request ever carried a wrong secret');
  t.deepEqual(requests.filter((r) => r.method === 'POST').map((r) => new URLSearchParams(r.body).get('stage')),
    ['initramfs', 'rootfs-fetched', 'rootfs-fetched', 'verified', 'switched'], 'nothing was posted for the unusable answers');
  t.regex(out, new RegExp(`BOOTFLEET-IMAGE: node file mode 600 says controller=http://${lab.address}:${CONTROLLER_PORT} mac=${MAC} secret=${NODE_SECRET} `));
  t.log(out.split('\n').filter((l) => /^BOOTFLEET: /.test(l)).join('\n'));
});
