import test from 'ava';
import { qemuCommand, type QemuOptions } from '../../src/lab/qemu.js';

// The command line alone (pure): the boots themselves are in the image-*.test.ts lab tests.

const piBoot = { kernel: 'rpi/kernel8.img', initrd: 'rpi/initramfs8', dtb: 'rpi/bcm2837-rpi-3-b.dtb', append: 'bootfleet.controller=http://198.18.0.1:8080' };

function args(opts: Partial<QemuOptions>): string[] {
  return qemuCommand({ name: 'n', boot: 'network', ...opts })[1];
}

/** The value after `flag` (first occurrence). */
function after(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i < 0 ? undefined : argv[i + 1];
}

test('qemuCommand: a raspi3b node with a tap gets usb-net on that tap with its MAC, and the Pi boot files directly', (t) => {
  const [bin, argv] = qemuCommand({ name: 'pi3', arch: 'aarch64', machine: 'raspi3b', tap: 'tap4', mac: '52:54:00:bf:00:04', boot: piBoot });
  t.is(bin, 'qemu-system-aarch64');
  t.is(after(argv, '-M'), 'raspi3b');
  t.is(after(argv, '-m'), '1024');
  t.is(after(argv, '-netdev'), 'tap,id=n0,ifname=tap4,script=no,downscript=no');
  t.is(after(argv, '-device'), 'usb-net,netdev=n0,mac=52:54:00:bf:00:04');
  t.is(after(argv, '-kernel'), 'rpi/kernel8.img');
  t.is(after(argv, '-dtb'), 'rpi/bcm2837-rpi-3-b.dtb');
  t.is(after(argv, '-initrd'), 'rpi/initramfs8');
  t.is(after(argv, '-append'), 'console=ttyAMA0 bootfleet.controller=http://198.18.0.1:8080 panic=-1');
  t.false(argv.includes('-cpu'), 'the board model has its own CPU');
  t.false(argv.includes('-nic'));
});

test('qemuCommand: raspi3b without a tap has no NIC at all (and no -nic none, which it does not need)', (t) => {
  const argv = args({ arch: 'aarch64', machine: 'raspi3b', boot: piBoot });
  t.false(argv.includes('-netdev'));
  t.false(argv.includes('-device'));
  t.false(argv.includes('-nic'));
});

test('qemuCommand: raspi3b refuses a network boot, PCI NICs, an option ROM and a missing dtb, naming what to do', (t) => {
  const pi = { arch: 'aarch64', machine: 'raspi3b', tap: 'tap1' } as const;
  t.throws(() => args({ ...pi }), { message: /raspi3b cannot network boot .*kernel8\.img, the dtb and initramfs8/ });
  t.throws(() => args({ ...pi, boot: piBoot, nic: 'virtio-net-pci' }), { message: /no PCI bus for virtio-net-pci; its NIC is usb-net/ });
  t.throws(() => args({ ...pi, boot: piBoot, nic: 'e1000' }), { message: /no PCI bus for e1000/ });
  t.throws(() => args({ ...pi, boot: piBoot, nicRom: '' }), { message: /no option ROM/ });
  t.throws(() => args({ ...pi, boot: { kernel: 'k' } }), { message: /raspi3b needs a dtb/ });
  t.is(after(args({ ...pi, boot: piBoot, nic: 'usb-net' }), '-device'), 'usb-net,netdev=n0', 'usb-net named explicitly; no mac= when none given');
});

test('qemuCommand: usb-net is refused on the PCI machines, whose default NIC stays virtio-net-pci', (t) => {
  t.throws(() => args({ tap: 'tap1', nic: 'usb-net' }), { message: /usb-net is the raspi3b NIC; pc takes virtio-net-pci or e1000/ });
  t.throws(() => args({ arch: 'aarch64', tap: 'tap1', nic: 'usb-net', firmware: 'QEMU_EFI.fd' }), { message: /usb-net is the raspi3b NIC; virt/ });
  t.is(after(args({ tap: 'tap1', mac: '52:54:00:bf:00:01' }), '-device'), 'virtio-net-pci,netdev=n0,mac=52:54:00:bf:00:01');
  t.is(after(args({ boot: { kernel: 'k' } }), '-nic'), 'none', 'x86 without a tap: no NIC, not QEMU\'s user-mode default');
});
