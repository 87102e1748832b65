import test from 'ava';
import { INITRAMFS_MARKER } from '../../src/lab/test-initramfs.js';
import { startLabController } from '../../src/lab/lab-controller.js';
import { requireLab, kernelAndInitramfs, withLab } from '../helpers/lab.js';

const marker = new RegExp(INITRAMFS_MARKER);

test('lab: QEMU with its iPXE NIC ROM netboots a Debian kernel and busybox initramfs from the controller in full mode', async (t) => {
  await requireLab();
  t.timeout(240_000);
  const lab = await withLab(t);
  const { kernel, initrd } = await kernelAndInitramfs(lab, 'amd64');
  const ctl = await startLabController(lab, {
    bootFiles: { vmlinuz: kernel.vmlinuz, 'initrd.img': initrd, 'undionly.kpxe': '/usr/lib/ipxe/undionly.kpxe' },
    config: { boot: { default: { kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline: 'console=ttyS0 panic=-1' } } },
  });
  const started = Date.now();
  const node = await lab.addNode({ arch: 'x86_64' });
  await node.waitFor(marker, 200_000);
  t.log(`PXE boot to marker: ${Date.now() - started} ms`);
  t.regex(node.output(), /iPXE/, 'the NIC ROM is iPXE');

  const me = await ctl.node(node.mac ?? '');
  t.truthy(me, `node list shows ${node.mac}`);
  t.is(me?.firmware, 'bios', 'a BIOS PC whose NIC ROM is iPXE shows as bios');
  const stages = me?.events.map((e) => e.stage) ?? [];
  for (const stage of ['dhcp', 'ipxe-script', 'kernel', 'initrd'] as const) t.true(stages.includes(stage), `stage ${stage} recorded: ${stages.join(',')}`);
  t.regex(me?.ip ?? '', /^198\.18\.0\.(1\d\d)$/, 'it got an address from the range');
});
