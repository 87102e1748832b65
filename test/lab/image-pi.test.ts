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

test('lab: the Pi target kernel, Pi 3B device tree and initramfs reach the initramfs under qemu-system-aarch64 -M raspi3b', async (t) => {
  await requireLab('aarch64');
  t.timeout(300_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const rpi = join((await buildRecipe('tiny-web', 'arm64', store)).dir, 'rpi');
  const node = await lab.addNode({
    arch: 'aarch64', machine: 'raspi3b', network: false,
    boot: { kernel: join(rpi, 'kernel8.img'), initrd: join(rpi, 'initramfs8'), dtb: join(rpi, 'bcm2837-rpi-3-b.dtb'), append: `bootfleet.controller=http://${lab.address}:8080` },
  });
  await node.waitFor(/BOOTFLEET: initramfs started/, 240_000);
  t.regex(node.output(), /Machine model: Raspberry Pi 3 Model B/);
});
