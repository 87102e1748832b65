import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../pkg.js';
import { buildCpio, type CpioEntry } from '../cpio.js';
import type { DebianKernel } from '../debs.js';
import { NODE_MODULES, readModule, resolveModules, type ModuleRequest, type ModuleResolution } from '../modules.js';

/**
 * The node initramfs: busybox-static, the kernel modules a netbooting node needs, and our
 * /init (images/initramfs/init), which fetches, verifies and switches into the image's
 * squashfs root. The /init contract is described in that script's header.
 */
export interface NodeInitramfsOptions {
  arch: 'amd64' | 'arm64';
  kernel: Pick<DebianKernel, 'version' | 'modulesDir' | 'package'>;
  /** A static busybox binary for `arch` (see `debianBusybox`). */
  busybox: string;
  /** Modules to include with their dependencies; default {@link NODE_MODULES}[arch]. */
  modules?: readonly ModuleRequest[];
  /** Seconds since the epoch for every entry; default `SOURCE_DATE_EPOCH`, else 0. */
  mtime?: number;
  /** Where `init`, `lib.sh` and `udhcpc.script` come from; default `<package>/images/initramfs`. */
  assetsDir?: string;
}

/** Where /init finds the load list and the udhcpc script (it names the same paths). */
export const MODULE_LIST_PATH = 'etc/bootfleet/modules';
export const UDHCPC_SCRIPT_PATH = 'etc/bootfleet/udhcpc.script';

/**
 * Applets linked in /bin: everything /init and the udhcpc script run, plus a few for looking
 * around in debug sessions. A fixed list rather than `busybox --list`, so an arm64 busybox
 * needs no emulator and the archive does not depend on the host.
 */
export const APPLETS: readonly string[] = [
  '[', 'cat', 'cp', 'cut', 'df', 'dmesg', 'echo', 'grep', 'head', 'hostname', 'insmod', 'ip', 'ls', 'lsmod',
  'mkdir', 'mount', 'od', 'printf', 'ps', 'rm', 'sed', 'sh', 'sha256sum', 'sleep', 'switch_root', 'tail', 'tar',
  'test', 'timeout', 'tr', 'udhcpc', 'umount', 'uname', 'wc', 'wget',
];

export interface NodeInitramfs {
  entries: CpioEntry[];
  modules: ModuleResolution;
}

/**
 * A gzip'd cpio newc archive of the node initramfs. Deterministic: the same inputs give the
 * same bytes (sorted entries, owner 0:0, one mtime; see cpio.ts). Fails with ERR_COMMAND_FAILED
 * when a required module is missing from the kernel.
 */
export async function buildNodeInitramfs(opts: NodeInitramfsOptions): Promise<Buffer> {
  const { entries } = await nodeInitramfsEntries(opts);
  return buildCpio(entries, { gzip: true, ...(opts.mtime === undefined ? {} : { mtime: opts.mtime }) });
}

/** The archive's entries and the module resolution behind them (for inspection and logs). */
export async function nodeInitramfsEntries(opts: NodeInitramfsOptions): Promise<NodeInitramfs> {
  const assets = opts.assetsDir ?? join(packageRoot(), 'images', 'initramfs');
  const resolution = await resolveModules(opts.kernel, opts.modules ?? NODE_MODULES[opts.arch]);
  const moduleRoot = `lib/modules/${opts.kernel.version}`;
  const moduleEntries = await Promise.all(
    resolution.modules.map(async (m): Promise<CpioEntry> => {
      const path = `${moduleRoot}/${m.installPath}`;
      // Plain modules stream from the kernel tree; compressed ones are unpacked (insmod cannot).
      if (m.path.endsWith('.ko')) return { type: 'file', path, mode: 0o644, source: m.path, size: (await stat(m.path)).size };
      return { type: 'file', path, mode: 0o644, data: await readModule(m.path) };
    }),
  );
  const entries: CpioEntry[] = [
    { type: 'file', path: 'bin/busybox', mode: 0o755, source: opts.busybox, size: (await stat(opts.busybox)).size },
    ...APPLETS.map((a): CpioEntry => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { type: 'symlink', path: 'sbin', target: 'bin' },
    // The kernel opens /dev/console for init before devtmpfs is mounted: without the node,
    // init starts with no stdin/stdout. /dev/null serves the same gap.
    { type: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'chardev', path: 'dev/null', mode: 0o666, major: 1, minor: 3 },
    ...['proc', 'sys', 'run', 'newroot', 'etc'].map((d): CpioEntry => ({ type: 'dir', path: d })),
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'file', path: 'init', mode: 0o755, data: await readFile(join(assets, 'init')) },
    { type: 'file', path: 'etc/bootfleet/lib.sh', mode: 0o644, data: await readFile(join(assets, 'lib.sh')) },
    { type: 'file', path: UDHCPC_SCRIPT_PATH, mode: 0o755, data: await readFile(join(assets, 'udhcpc.script')) },
    { type: 'file', path: MODULE_LIST_PATH, mode: 0o644, data: resolution.modules.map((m) => `${m.installPath}\n`).join('') },
    ...moduleEntries,
  ];
  return { entries, modules: resolution };
}
