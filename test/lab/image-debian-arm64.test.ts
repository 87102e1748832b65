import test from 'ava';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';

const MAC = '52:54:00:bf:00:03';

// The Pi image a user wants: debian-web for arm64, built on this (x86) controller through
// qemu-user (scripts/setup-debian.sh enables it) and booted into RAM under qemu-system-aarch64
// -M virt. No arm64 network firmware is used: kernel and initramfs are given to QEMU directly,
// the root's layers and the node overlay come over HTTP from the controller, as on a Pi. Systemd under
// TCG emulation of arm64 is slow (docs/images.md has the measured times), hence the long waits:
// they are there to catch hangs, not to measure; the times are printed with t.log.
test('lab: debian-web arm64 (the Pi image) built on this controller boots under -M virt into RAM and nginx serves the node page', async (t) => {
  await requireLab('aarch64');
  t.timeout(40 * 60_000); // a cold build (mmdebstrap under qemu-user) plus a TCG boot of systemd
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');

  const buildStart = Date.now();
  const image = await buildRecipe('debian-web', 'arm64', store);
  const rootfs = image.stages.find((s) => s.stage === 'rootfs');
  t.log(`build: ${seconds(Date.now() - buildStart)} (${rootfs?.note ?? '?'}; stages ${image.stages.map((s) => `${s.stage} ${s.seconds.toFixed(1)} s`).join(', ')})`);
  t.true(image.id.endsWith('-arm64'));

  const ctl = await startLabController(lab, { config: { images: { store, default: 'debian-web' }, nodes: [{ mac: MAC, hostname: 'pi-web1' }] } });
  const bootStart = Date.now();
  const node = await lab.addNode({
    arch: 'aarch64', mac: MAC,
    // RAM holds the downloaded layers (~40 MiB) in tmpfs, the overlay upper layer and systemd.
    memoryMiB: 1024,
    boot: { kernel: join(image.dir, 'vmlinuz'), initrd: join(image.dir, 'initrd.img'), append: `bootfleet.controller=${ctl.httpBase}` },
  });
  await node.waitFor(/BOOTFLEET: switching root/, 15 * 60_000);
  const switched = Date.now();
  // The image's bootfleet-init-done unit posts init-done once nginx is up, then prints this line.
  await node.waitFor(/BOOTFLEET: init done/, 20 * 60_000);
  t.log(`TCG boot (qemu start to "init done"): ${seconds(Date.now() - bootStart)}, of which systemd after switch_root ${seconds(Date.now() - switched)}`);

  const me = await ctl.node(MAC);
  t.is(me?.image, `debian-web@${image.id}`);
  for (const s of ['initramfs', 'rootfs-fetched', 'verified', 'switched', 'init-done'] as const) {
    t.true(me?.events.some((e) => e.stage === s), `stage ${s}`);
  }
  // The node's address as it printed it: a directly booted node has no firmware DHCP exchange
  // before it exists in the node list, so its record carries no ip (a PXE-booted one's does).
  const ip = /BOOTFLEET: dhcp ok: \S+ ([\d.]+)\//.exec(node.output())?.[1];
  if (!ip) return t.fail('the node printed no "dhcp ok" address');
  const client = await lab.addHost('client', '198.18.0.250/24');
  const res = await client.exec('curl', ['-sS', '-i', '--max-time', '30', `http://${ip}/`]);
  t.regex(res.stdout, /^HTTP\/1\.1 200/m, 'the page is served');
  t.regex(res.stdout, /^Server: nginx/im, 'by nginx on the node');
  t.regex(res.stdout, /<h1>pi-web1<\/h1>/, 'rendered for this node');
  t.true(res.stdout.includes(`running debian-web@${image.id} from RAM`), `naming the arm64 build it runs; got:\n${res.stdout}`);
});

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(0)} s`;
}
