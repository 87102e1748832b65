import test from 'ava';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { NetNamespace } from '../../src/lab/netns.js';
import { buildRecipe } from '../helpers/images.js';
import { packageRoot } from '../../src/pkg.js';
import { requireLab, withLab } from '../helpers/lab.js';

interface SimFile { path: string; status: string; sha256: string }

test('lab: the Pi boot files TFTP hands a simulated Pi 4 are the ones the image build produced', async (t) => {
  await requireLab();
  t.timeout(300_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const { manifest } = await buildRecipe('tiny-web', 'arm64', store);
  const ctl = await startLabController(lab, { config: { images: { store, default: 'tiny-web' } } });
  const pi = await NetNamespace.create('bf-pi');
  t.teardown(() => pi.remove());
  await lab.ns.connect(pi, { localDev: 'vpi', remoteDev: 'eth0', bridge: lab.bridge });
  const serial = '1a2b3c4d';
  await ctl.cli('node', 'add', '--serial', serial, '--model', 'pi4');
  const sim = lab.spawn(process.execPath, ['--import', 'tsx/esm', 'test/sim/pi4-bootloader.ts', JSON.stringify({ iface: 'eth0', mac: 'dc:a6:32:0a:0b:0c', serial, dtb: 'bcm2711-rpi-4-b.dtb' })], {
    name: 'pi4-sim', netns: pi, cwd: packageRoot(),
  });
  await sim.waitFor(/"files":/, 180_000);
  const files = (JSON.parse(sim.output().split('\n').find((l) => l.startsWith('{')) ?? '{}') as { files: SimFile[] }).files;
  for (const name of ['start4.elf', 'fixup4.dat', 'kernel8.img', 'initramfs8', 'bcm2711-rpi-4-b.dtb']) {
    const got = files.filter((f) => f.path === `${serial}/${name}`).at(-1);
    t.is(got?.status, 'ok', `${name} served`);
    t.is(got?.sha256, manifest?.files[`rpi/${name}`]?.sha256, `${name} is the built one`);
  }
});

test('lab: the Pi 3B board model (qemu-system-aarch64 -M raspi3b) boots the Pi image into RAM over its USB NIC and serves its page', async (t) => {
  await requireLab('aarch64');
  t.timeout(600_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const image = await buildRecipe('tiny-web', 'arm64', store);
  const rpi = join(image.dir, 'rpi');
  const mac = '52:54:00:bf:00:03';
  const ctl = await startLabController(lab, { config: { images: { store, default: 'tiny-web' }, nodes: [{ mac, hostname: 'pi3' }] } });
  // QEMU cannot run the Pi's boot ROM or bootcode.bin, so the Pi boot set's kernel8.img, device
  // tree and initramfs8 are given directly; from the initramfs on it is the real path: the USB
  // NIC (usb-net on the dwc2 host, with the node's MAC), DHCP, squashfs layers over HTTP, switch_root.
  const started = Date.now();
  const node = await lab.addNode({
    arch: 'aarch64', machine: 'raspi3b', mac,
    boot: { kernel: join(rpi, 'kernel8.img'), initrd: join(rpi, 'initramfs8'), dtb: join(rpi, 'bcm2837-rpi-3-b.dtb'), append: `bootfleet.controller=${ctl.httpBase}` },
  });
  t.regex(node.command[1].join(' '), /-device usb-net,netdev=n0,mac=52:54:00:bf:00:03/);
  await node.waitFor(/BOOTFLEET: init done/, 540_000);
  t.log(`raspi3b (TCG): QEMU start to "BOOTFLEET: init done" in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const out = node.output();
  t.regex(out, /Machine model: Raspberry Pi 3 Model B/);
  t.regex(out, new RegExp(`BOOTFLEET: network interface \\S+ mac ${mac}`), 'the initramfs found the USB NIC with the node\'s MAC');
  t.regex(out, /BOOTFLEET: layer 1\/2 verified[^\n]*\n[^]*BOOTFLEET: layer 2\/2 verified/, 'both layers, base first');

  const me = await ctl.node(mac);
  t.is(me?.image, `tiny-web@${image.id}`, 'the controller served the arm64 build');
  t.true(image.id.endsWith('-arm64'));
  const stages = me?.events.map((e) => e.stage) ?? [];
  for (const s of ['initramfs', 'rootfs-fetched', 'verified', 'switched', 'init-done'] as const) {
    t.true(stages.includes(s), `boot timeline has ${s}: ${stages.join(' ')}`);
  }

  const client = await lab.addHost('client', '198.18.0.250/24');
  const page = (await client.exec('curl', ['-sS', '--max-time', '30', `http://${me?.ip ?? ''}/`])).stdout;
  t.regex(page, /<h1>pi3<\/h1>/, 'the node\'s own page, rendered for it by the controller');
  t.regex(page, new RegExp(`tiny-web@${image.id}`));
});
