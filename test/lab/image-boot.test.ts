import test from 'ava';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';
import { overlaysWithCgi } from '../helpers/overlay.js';

const MAC = '52:54:00:bf:00:01';

test('lab: tiny-web (amd64) netboots from the controller into RAM and serves its node overlay over HTTP', async (t) => {
  await requireLab();
  t.timeout(300_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const built = await buildRecipe('tiny-web', 'amd64', store);
  // The node overlay: the shipped one plus a CGI script so the test can look inside the node.
  const overlays = await overlaysWithCgi(lab, { inside: 'cat /proc/mounts\necho "disks: $(ls /sys/block | grep -v -e ^loop -e ^ram | tr "\\n" " ")"' });

  const ctl = await startLabController(lab, {
    config: {
      images: { store, default: 'tiny-web' },
      nodes: [{ mac: MAC, hostname: 'web1' }],
    },
    overlaysDir: overlays,
  });
  const node = await lab.addNode({ arch: 'x86_64', mac: MAC });
  await node.waitFor(/BOOTFLEET: init done/, 240_000);
  t.notRegex(node.command[1].join(' '), /-(drive|hda|cdrom)\b/, 'no disk is attached');

  const me = await ctl.node(MAC);
  const stages = me?.events.map((e) => e.stage) ?? [];
  for (const s of ['dhcp', 'ipxe-script', 'kernel', 'initrd', 'initramfs', 'rootfs-fetched', 'verified', 'switched', 'init-done'] as const) {
    t.true(stages.includes(s), `boot timeline has ${s}: ${stages.join(' ')}`);
  }
  t.is(me?.image, `tiny-web@${built.id}`);

  const client = await lab.addHost('client', '198.18.0.250/24');
  const get = async (path: string) => (await client.exec('curl', ['-sS', '--max-time', '10', `http://${me?.ip ?? ''}${path}`])).stdout;
  const page = await get('/');
  t.regex(page, /<h1>web1<\/h1>/, 'content rendered for this node by the controller');
  t.regex(page, new RegExp(`tiny-web@${built.id}`));
  const inside = await get('/cgi-bin/inside');
  t.regex(inside, /^overlay \/ overlay /m, 'the root is an overlayfs');
  t.is(inside.match(/^\/dev\/loop\d+ \/run\/bootfleet\/lower\/\d squashfs ro/gm)?.length, 2, 'over two read-only squashfs layers, base and image');
  t.regex(inside, /^overlay \/ overlay \S*lowerdir=\/run\/bootfleet\/lower\/1:\/run\/bootfleet\/lower\/0/m, 'the image layer on top');
  t.regex(inside, /^tmpfs \S+ tmpfs /m, 'with its writable layer in RAM');
  t.regex(inside, /^disks: \s*$/m, 'and no block device but loop/ram');
});
