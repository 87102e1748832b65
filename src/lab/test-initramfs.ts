import { readFile } from 'node:fs/promises';
import { buildCpio, type CpioEntry } from '../images/cpio.js';

/** The line /init prints once the kernel has handed over; tests wait for it on the console. */
export const INITRAMFS_MARKER = 'BOOTFLEET-MARKER: initramfs reached';

export interface TestInitramfsOptions {
  /** A static busybox for the guest's architecture (see `debianBusybox`); default /bin/busybox. */
  busybox?: string;
  /** Marker text; default {@link INITRAMFS_MARKER}. */
  marker?: string;
  /** Shell run by /init after the marker and before power-off (e.g. `udhcpc -i eth0`). */
  script?: string;
  /** Power off after the script (default). false: start a shell on the console instead. */
  poweroff?: boolean;
  /** More entries, e.g. a file the script reads. */
  extra?: CpioEntry[];
  /** Gzip the archive (default true; the kernel takes both). */
  gzip?: boolean;
}

/**
 * Applets we link: what /init and test scripts use. A fixed list rather than `busybox --list`
 * so an arm64 busybox needs no emulator and the archive does not depend on the host's build.
 */
const APPLETS = [
  'cat', 'chmod', 'cp', 'date', 'dmesg', 'echo', 'grep', 'hostname', 'ifconfig', 'ip', 'kill', 'ln', 'ls',
  'mkdir', 'mount', 'mv', 'nc', 'ping', 'poweroff', 'ps', 'reboot', 'rm', 'route', 'sed', 'sh', 'sha256sum',
  'sleep', 'switch_root', 'sync', 'tftp', 'udhcpc', 'umount', 'uname', 'wget',
];

/**
 * A tiny busybox initramfs: /init mounts proc, sys and dev, prints the marker to /dev/console
 * and to the first serial port of either kind (ttyS0 on x86, ttyAMA0 on Arm), runs `script`,
 * then powers off (with -no-reboot, QEMU exits). Same options, same bytes.
 */
export async function buildTestInitramfs(opts: TestInitramfsOptions = {}): Promise<Buffer> {
  const busybox = await readFile(opts.busybox ?? '/bin/busybox');
  const entries: CpioEntry[] = [
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
    ...APPLETS.map((a): CpioEntry => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { type: 'symlink', path: 'sbin', target: 'bin' },
    // The kernel opens /dev/console for init before devtmpfs exists; without the node, init's
    // own stdout goes nowhere.
    { type: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'chardev', path: 'dev/null', mode: 0o666, major: 1, minor: 3 },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'file', path: 'init', mode: 0o755, data: initScript(opts) },
    ...(opts.extra ?? []),
  ];
  return buildCpio(entries, { gzip: opts.gzip ?? true });
}

function initScript(opts: TestInitramfsOptions): string {
  const marker = opts.marker ?? INITRAMFS_MARKER;
  const quoted = `'${marker.replace(/'/g, `'\\''`)}'`;
  const end = opts.poweroff === false ? 'exec sh </dev/console >/dev/console 2>&1' : 'poweroff -f';
  return `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo ${quoted} >/dev/console
for tty in /dev/ttyS0 /dev/ttyAMA0; do
  # With console=<tty> the line already went there via /dev/console.
  grep -q "console=\${tty#/dev/}" /proc/cmdline || { [ -c $tty ] && echo ${quoted} >$tty 2>/dev/null; }
done
${opts.script ?? ''}
sync
${end}
`;
}
