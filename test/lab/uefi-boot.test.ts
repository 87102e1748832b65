import test, { type ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabController, type LabController } from '../../src/lab/lab-controller.js';
import type { Lab } from '../../src/lab/lab.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';

// Debian's UEFI firmware for QEMU: OVMF (x86-64, package ovmf) and AAVMF (arm64, qemu-efi-aarch64).
const OVMF = '/usr/share/ovmf/OVMF.fd';
const AAVMF = '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd';

/**
 * The node's page, fetched from another host on the LAN: proof that the image runs (its httpd
 * serves the overlay the controller rendered for this node).
 */
async function nodePage(lab: Lab, ctl: LabController, mac: string): Promise<string> {
  const me = await ctl.node(mac);
  const client = await lab.addHost('client', '198.18.0.250/24');
  return (await client.exec('curl', ['-sS', '--max-time', '10', `http://${me?.ip ?? ''}/`])).stdout;
}

async function assertUefiBoot(t: ExecutionContext, ctl: LabController, mac: string, firmware: 'efi-x64' | 'efi-arm64', loader: string, imageId: string): Promise<void> {
  const me = await ctl.node(mac);
  t.is(me?.firmware, firmware, 'node list shows the machine as UEFI, not as plain iPXE');
  t.is(me?.image, `tiny-web@${imageId}`);
  const events = me?.events ?? [];
  t.true(events.some((e) => e.stage === 'tftp' && e.detail === loader), `the firmware's own PXE loaded ${loader} over TFTP`);
  const stages = events.map((e) => e.stage);
  for (const s of ['ipxe-script', 'kernel', 'initrd', 'initramfs', 'verified', 'switched', 'init-done'] as const) {
    t.true(stages.includes(s), `boot timeline has ${s}: ${stages.join(' ')}`);
  }
}

test('lab: an x86-64 UEFI machine (OVMF, the firmware\'s own PXE) netboots tiny-web into RAM in full mode', async (t) => {
  await requireLab();
  t.timeout(420_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const image = await buildRecipe('tiny-web', 'amd64', store);
  const mac = '52:54:00:bf:0e:01';
  const ctl = await startLabController(lab, { config: { images: { store, default: 'tiny-web' }, nodes: [{ mac, hostname: 'uefi1' }] } });
  const started = Date.now();
  // romfile= empty: no iPXE ROM on the NIC, so EDK2's PXE does the first DHCP and TFTP.
  const node = await lab.addNode({ arch: 'x86_64', mac, firmware: OVMF, nicRom: '', memoryMiB: 512 });
  await node.waitFor(/BOOTFLEET: init done/, 360_000);
  t.log(`OVMF (TCG) power-on to init-done: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.notRegex(node.output(), /Unable to mount root fs/);
  await assertUefiBoot(t, ctl, mac, 'efi-x64', 'snponly.efi', image.id);
  t.regex(await nodePage(lab, ctl, mac), /<h1>uefi1<\/h1>/);
});

test('lab: an x86-64 UEFI machine (OVMF) netboots tiny-web in proxy mode beside a router that only hands out addresses', async (t) => {
  await requireLab();
  t.timeout(420_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const image = await buildRecipe('tiny-web', 'amd64', store);
  // The "home router": busybox udhcpd in its own namespace, knowing nothing of PXE.
  const router = await lab.addHost('router', '198.18.0.254/24');
  const conf = join(lab.logDir, 'udhcpd.conf');
  await writeFile(conf, ['start 198.18.0.50', 'end 198.18.0.60', 'interface eth0', `lease_file ${join(lab.logDir, 'udhcpd.leases')}`, 'option subnet 255.255.255.0', ''].join('\n'));
  await writeFile(join(lab.logDir, 'udhcpd.leases'), '');
  lab.spawn('busybox', ['udhcpd', '-f', conf], { name: 'router-udhcpd', netns: router });
  const mac = '52:54:00:bf:0e:02';
  const ctl = await startLabController(lab, { dhcp: { mode: 'proxy' }, config: { images: { store, default: 'tiny-web' }, nodes: [{ mac, hostname: 'uefi2' }] } });
  const started = Date.now();
  const node = await lab.addNode({ arch: 'x86_64', mac, firmware: OVMF, nicRom: '', memoryMiB: 512 });
  await node.waitFor(/BOOTFLEET: init done/, 360_000);
  t.log(`OVMF (TCG) proxy mode, power-on to init-done: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.regex(node.output(), /BOOTFLEET: dhcp ok: \S+ 198\.18\.0\.(5\d|60)\//, 'the address came from the router');
  await assertUefiBoot(t, ctl, mac, 'efi-x64', 'snponly.efi', image.id);
  t.regex(await nodePage(lab, ctl, mac), /<h1>uefi2<\/h1>/);
});

test('lab: an arm64 UEFI machine (AAVMF on -M virt, the firmware\'s own PXE) netboots tiny-web into RAM', async (t) => {
  await requireLab('aarch64');
  t.timeout(600_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const image = await buildRecipe('tiny-web', 'arm64', store);
  const mac = '52:54:00:bf:0e:03';
  const ctl = await startLabController(lab, { config: { images: { store, default: 'tiny-web' }, nodes: [{ mac, hostname: 'uefi3' }] } });
  const started = Date.now();
  const node = await lab.addNode({ arch: 'aarch64', mac, firmware: AAVMF, nicRom: '', memoryMiB: 1024 });
  await node.waitFor(/BOOTFLEET: init done/, 540_000);
  t.log(`AAVMF (TCG) power-on to init-done: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.true(image.id.endsWith('-arm64'));
  await assertUefiBoot(t, ctl, mac, 'efi-arm64', 'ipxe-arm64.efi', image.id);
  t.regex(await nodePage(lab, ctl, mac), /<h1>uefi3<\/h1>/);
});
