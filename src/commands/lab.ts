import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError } from '../errors.js';
import { createLogger } from '../log.js';
import { Lab } from '../lab/lab.js';
import { startLabController } from '../lab/lab-controller.js';
import { buildTestInitramfs, INITRAMFS_MARKER } from '../lab/test-initramfs.js';
import { debianKernel, debianBusybox } from '../images/debs.js';

/**
 * `bootfleet lab demo`: the whole boot path on one machine with no hardware. A network namespace
 * with a bridge, the controller bound to it, and QEMU nodes that PXE-boot Debian's kernel and a
 * busybox initramfs from it; then the node table, then everything is removed (or kept until
 * Ctrl-C with --keep).
 */
export async function labDemoCommand(opts: { nodes: number; keep: boolean }, say: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<void> {
  if (process.getuid?.() !== 0) throw new BootfleetError('ERR_USAGE', 'the lab makes network namespaces and taps: run it as root (sudo)');
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 8) throw new BootfleetError('ERR_USAGE', '--nodes must be 1 to 8');
  const log = createLogger({ level: process.env['BOOTFLEET_LOG'] ?? 'warn' });
  say('bootfleet lab: fetching Debian\'s amd64 kernel and busybox (cached after the first run)…');
  const kernel = await debianKernel('amd64', { log });
  const lab = await Lab.create({ log });
  const stop = (): void => void lab.destroy().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const initrd = join(lab.logDir, 'initramfs.cpio.gz');
    await writeFile(initrd, await buildTestInitramfs({ busybox: await debianBusybox('amd64'), poweroff: !opts.keep }));
    say(`bootfleet lab: namespace ${lab.ns.name}, bridge br0 ${lab.cidr}, logs in ${lab.logDir}`);
    const ctl = await startLabController(lab, {
      bootFiles: { vmlinuz: kernel.vmlinuz, 'initrd.img': initrd, 'undionly.kpxe': '/usr/lib/ipxe/undionly.kpxe' },
      config: { boot: { default: { kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline: 'console=ttyS0 panic=-1 quiet' } } },
    });
    say(`bootfleet lab: controller up at ${ctl.httpBase} (DHCP full mode, TFTP, HTTP); booting ${opts.nodes} QEMU node(s)…`);
    const started = Date.now();
    await Promise.all(Array.from({ length: opts.nodes }, async () => {
      const node = await lab.addNode({ arch: 'x86_64' });
      await node.waitFor(new RegExp(INITRAMFS_MARKER), 240_000);
      say(`  ${node.mac ?? node.name}: booted into RAM after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }));
    say('\nbootfleet node list:');
    say((await ctl.cli('node', 'list')).trimEnd());
    if (opts.keep) {
      say(`\nthe lab keeps running; Ctrl-C removes it. Try: ip netns exec ${lab.ns.name} curl ${ctl.httpBase}/api/nodes`);
      await new Promise(() => undefined);
    }
  } finally {
    await lab.destroy();
    say('bootfleet lab: removed the namespace, the controller and the nodes.');
  }
}
