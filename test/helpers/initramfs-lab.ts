import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianBusybox, debianKernel } from '../../src/images/debs.js';
import { buildNodeInitramfs } from '../../src/images/initramfs/build.js';
import type { Lab } from '../../src/lab/lab.js';
import type { LabProcess } from '../../src/lab/process.js';
import type { QemuNode } from '../../src/lab/qemu.js';

// The parts of the node initramfs lab tests (test/lab/initramfs-*.test.ts): Debian's kernel +
// our initramfs given directly to QEMU (TCG), a stand-in controller (busybox httpd, or the
// request-recording stand-in-controller.ts) and busybox udhcpd, all inside the lab namespace.

export const CONTROLLER_PORT = 8080;
export const MAC = '52:54:00:bf:00:01'; // the lab's first node
export const IMAGE_MARKER = 'BOOTFLEET-IMAGE: init reached';
/** The per-node secret the boot info hands out. */
export const NODE_SECRET = '7c'.repeat(32);

/** The test image's /sbin/init: proves it ran from RAM, shows what it found, then powers off. */
const IMAGE_INIT = `#!/bin/sh
export PATH=/bin
echo "${IMAGE_MARKER}"
echo "BOOTFLEET-IMAGE: hostname $(hostname)"
while read -r line; do echo "MOUNT: $line"; done </proc/mounts
echo "BOOTFLEET-IMAGE: block devices: $(ls /sys/block | tr '\\n' ' ')"
echo "BOOTFLEET-IMAGE: addr $(ip -4 -o addr show dev eth0 | sed -n 's/.* inet \\([^ ]*\\).*/\\1/p')"
echo "BOOTFLEET-IMAGE: resolv $(cat /etc/resolv.conf | tr '\\n' ' ')"
echo "BOOTFLEET-IMAGE: etc-hostname $(cat /etc/hostname)"
[ -e /etc/node-overlay.txt ] && echo "BOOTFLEET-IMAGE: overlay says $(cat /etc/node-overlay.txt)"
[ -e /etc/layer.txt ] && echo "BOOTFLEET-IMAGE: layer says $(cat /etc/layer.txt)"
echo "BOOTFLEET-IMAGE: shadowed says $(cat /etc/shadowed.txt)"
echo "BOOTFLEET-IMAGE: node file mode $(stat -c %a /run/bootfleet/node) says $(tr '\\n' ' ' </run/bootfleet/node)"
poweroff -f
`;

const IMAGE_APPLETS = ['sh', 'cat', 'echo', 'hostname', 'ls', 'tr', 'ip', 'sed', 'poweroff', 'mount', 'stat'];

/** A tiny root (busybox + /sbin/init) as a squashfs; returns its path. */
async function makeSquashfs(dir: string, busybox: string): Promise<string> {
  const root = join(dir, 'image-root');
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp']) await mkdir(join(root, d), { recursive: true });
  await copyFile(busybox, join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  for (const a of IMAGE_APPLETS) await symlink('busybox', join(root, 'bin', a));
  await writeFile(join(root, 'sbin', 'init'), IMAGE_INIT, { mode: 0o755 });
  await writeFile(join(root, 'etc', 'shadowed.txt'), 'the base\n');
  const out = join(dir, 'root.squashfs');
  await execa('mksquashfs', [root, out, '-noappend', '-all-root', '-quiet', '-no-progress']);
  return out;
}

/** A layer to stack on that root, served from `www` as `<name>`: etc/layer.txt and etc/shadowed.txt saying `says`. */
export async function imageLayer(served: Served, name: string, says: string): Promise<Digest & { path: string }> {
  const root = join(served.www, '..', `layer-${name}`);
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc', 'layer.txt'), `${says}\n`);
  await writeFile(join(root, 'etc', 'shadowed.txt'), `${says}\n`);
  const out = join(served.www, name);
  await execa('mksquashfs', [root, out, '-noappend', '-all-root', '-quiet', '-no-progress']);
  return { path: name, ...(await digestOf(out)) };
}

export interface Digest {
  sha256: string;
  size: number;
}

export async function digestOf(file: string): Promise<Digest> {
  const bytes = await readFile(file);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

export interface Served extends Digest {
  httpd: LabProcess;
  www: string;
  squashfs: string;
}

export interface StandInSetup {
  /** Requests without `Authorization: Bearer <secret>` (other than the boot info) get 403. */
  secret?: string;
  /** path → body bytes after which the first GET of that path is cut. */
  cut?: Record<string, number>;
}

const STAND_IN = fileURLToPath(new URL('./stand-in-controller.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Starts udhcpd (with a DNS option, to see resolv.conf carried over) and a controller stand-in in
 * the lab: busybox httpd (static files; it answers the event POSTs with 501), or the recording
 * stand-in (stand-in-controller.ts), which logs every request as a `REQUEST {json}` line.
 */
export async function controllerSide(lab: Lab, busybox: string, server: 'busybox' | 'stand-in' = 'busybox', setup: StandInSetup = {}): Promise<Served> {
  const www = join(lab.logDir, 'www');
  await mkdir(join(www, 'api', 'boot'), { recursive: true });
  const squashfs = await makeSquashfs(lab.logDir, busybox);
  const conf = join(lab.logDir, 'udhcpd.conf');
  await writeFile(conf, [
    'start 198.18.0.100', 'end 198.18.0.150', 'interface br0', `lease_file ${join(lab.logDir, 'leases')}`,
    `pidfile ${join(lab.logDir, 'udhcpd.pid')}`, 'option subnet 255.255.255.0', `option dns ${lab.address}`, '',
  ].join('\n'));
  await writeFile(join(lab.logDir, 'leases'), '');
  lab.spawn('/bin/busybox', ['udhcpd', '-f', conf], { name: 'udhcpd' });
  const cuts = Object.entries(setup.cut ?? {}).map(([path, bytes]) => `${path}=${bytes}`);
  const httpd = server === 'busybox'
    ? lab.spawn('/bin/busybox', ['httpd', '-f', '-vv', '-p', `${lab.address}:${CONTROLLER_PORT}`, '-h', www], { name: 'httpd' })
    : lab.spawn(process.execPath, ['--import', 'tsx/esm', STAND_IN, www, lab.address, String(CONTROLLER_PORT), setup.secret ?? '-', ...cuts], { name: 'controller', cwd: REPO });
  if (server === 'stand-in') await httpd.waitFor(/LISTENING/, 30_000);
  return { httpd, www, squashfs, ...(await digestOf(squashfs)) };
}

/**
 * The boot info the controller sends for a layered image: `layer=<url> <sha256> <size>` lines
 * (paths under the stand-in's www, base first), the node secret, and an overlay if given.
 */
export function layeredBootinfo(layers: Array<Digest & { path: string }>, overlay?: Digest & { url: string }): string {
  return [
    'hostname=node-a', 'image=tiny-test', 'version=1',
    ...layers.map((l) => `layer=http://198.18.0.1:${CONTROLLER_PORT}/${l.path} ${l.sha256} ${l.size}`),
    ...(overlay ? [`overlay_url=${overlay.url}`, `overlay_sha256=${overlay.sha256}`, `overlay_size=${overlay.size}`] : ['overlay_url=']),
    `node_secret=${NODE_SECRET}`, 'init=/sbin/init', '',
  ].join('\n');
}

/** The boot info the controller sends for a boot set built before layers: the one root with the squashfs_ keys. */
export function bootinfo(served: Served, squashfsPath: string, overlay?: Digest & { url: string }): string {
  return [
    'hostname=node-a', 'image=tiny-test', 'version=1', `squashfs_url=http://198.18.0.1:${CONTROLLER_PORT}/${squashfsPath}`,
    `squashfs_sha256=${served.sha256}`, `squashfs_size=${served.size}`,
    ...(overlay ? [`overlay_url=${overlay.url}`, `overlay_sha256=${overlay.sha256}`, `overlay_size=${overlay.size}`] : ['overlay_url=']),
    `node_secret=${NODE_SECRET}`, 'init=/sbin/init', '',
  ].join('\n');
}

/** A node overlay tar made by GNU tar from `files` (path → content, or `-> target` for a symlink). */
export async function overlayTar(dir: string, files: Record<string, string>): Promise<string> {
  const src = join(dir, 'overlay-src');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(src, path, '..'), { recursive: true });
    if (content.startsWith('-> ')) await symlink(content.slice(3), join(src, path));
    else await writeFile(join(src, path), content);
  }
  const out = join(dir, 'overlay.tar');
  await execa('tar', ['--owner=0', '--group=0', '-cf', out, '-C', src, '.']);
  return out;
}

export async function bootNode(t: ExecutionContext, lab: Lab, arch: 'amd64' | 'arm64' = 'amd64'): Promise<QemuNode> {
  const kernel = await debianKernel(arch);
  const initrd = join(lab.logDir, 'node-initramfs.cpio.gz');
  await writeFile(initrd, await buildNodeInitramfs({ arch, kernel, busybox: await debianBusybox(arch) }));
  t.log(`kernel ${kernel.version}`);
  const console = arch === 'amd64' ? 'ttyS0' : 'ttyAMA0';
  return lab.addNode({
    arch: arch === 'amd64' ? 'x86_64' : 'aarch64',
    boot: { kernel: kernel.vmlinuz, initrd, append: `console=${console} bootfleet.controller=http://${lab.address}:${CONTROLLER_PORT}` },
  });
}

/** Waits for each console pattern in turn and logs when it appeared (ms after QEMU started). */
export async function timeline(t: ExecutionContext, node: QemuNode, steps: RegExp[], timeoutMs: number): Promise<void> {
  const started = Date.now();
  const times: string[] = [];
  for (const re of steps) {
    await node.waitFor(re, timeoutMs - (Date.now() - started));
    times.push(`${re.source}: ${Date.now() - started} ms`);
  }
  t.log(`boot timeline (TCG):\n  ${times.join('\n  ')}`);
}
