import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { INITRAMFS_MARKER } from '../../src/lab/test-initramfs.js';
import { startLabController } from '../../src/lab/lab-controller.js';
import { requireLab, kernelAndInitramfs, withLab } from '../helpers/lab.js';

const marker = new RegExp(INITRAMFS_MARKER);
const cmdline = 'console=ttyS0 panic=-1';

test('lab: PXE → TFTP undionly.kpxe → iPXE → HTTP script (chainload) boots to the initramfs', async (t) => {
  await requireLab();
  t.timeout(240_000);
  const lab = await withLab(t);
  const { kernel, initrd } = await kernelAndInitramfs(lab, 'amd64');
  const mac = '52:54:00:bf:00:01';
  const ctl = await startLabController(lab, {
    bootFiles: { vmlinuz: kernel.vmlinuz, 'initrd.img': initrd, 'undionly.kpxe': '/usr/lib/ipxe/undionly.kpxe' },
    config: {
      boot: { default: { kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline } },
      nodes: [{ mac, chainloadIpxe: true }],
    },
  });
  const node = await lab.addNode({ arch: 'x86_64', mac });
  await node.waitFor(marker, 200_000);
  // Two iPXE starts on the console: the NIC ROM, then undionly.kpxe loaded over TFTP.
  t.true((node.output().match(/iPXE initialising devices|iPXE \d/g) ?? []).length >= 2, 'two iPXE banners');
  const me = await ctl.node(mac);
  const events = me?.events ?? [];
  t.true(events.some((e) => e.stage === 'tftp' && e.detail === 'undionly.kpxe'), 'undionly.kpxe came over TFTP');
  const tftpAt = events.findIndex((e) => e.stage === 'tftp');
  const scriptAt = events.findIndex((e) => e.stage === 'ipxe-script');
  t.true(tftpAt >= 0 && scriptAt > tftpAt, 'the script was fetched after the TFTP chainload');
});

test('lab: in proxy mode beside a separate plain DHCP server, the router hands out the address and the controller the boot', async (t) => {
  await requireLab();
  t.timeout(240_000);
  const lab = await withLab(t);
  const { kernel, initrd } = await kernelAndInitramfs(lab, 'amd64');
  // The "home router": busybox udhcpd in its own namespace on the same LAN, knowing nothing of PXE.
  const router = await lab.addHost('router', '198.18.0.254/24');
  const udhcpdConf = join(lab.logDir, 'udhcpd.conf');
  await writeFile(udhcpdConf, [
    'start 198.18.0.50', 'end 198.18.0.60', 'interface eth0', `lease_file ${join(lab.logDir, 'udhcpd.leases')}`,
    'option subnet 255.255.255.0', 'option router 198.18.0.254', '',
  ].join('\n'));
  await writeFile(join(lab.logDir, 'udhcpd.leases'), '');
  lab.spawn('busybox', ['udhcpd', '-f', udhcpdConf], { name: 'router-udhcpd', netns: router });
  const ctl = await startLabController(lab, {
    dhcp: { mode: 'proxy' },
    bootFiles: { vmlinuz: kernel.vmlinuz, 'initrd.img': initrd },
    config: { boot: { default: { kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline } } },
  });
  const node = await lab.addNode({ arch: 'x86_64' });
  await node.waitFor(marker, 200_000);
  t.regex(node.output(), /198\.18\.0\.(5\d|60)/, 'iPXE shows the address from the router');
  const me = await ctl.node(node.mac ?? '');
  t.true(me?.events.some((e) => e.stage === 'kernel'), 'the kernel came from the controller');
});
