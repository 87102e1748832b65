import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { debianBusybox, debianKernel } from '../../src/images/debs.js';
import { buildNodeInitramfs } from '../../src/images/initramfs/build.js';
import type { Lab } from '../../src/lab/lab.js';
import type { LabProcess } from '../../src/lab/process.js';
import type { QemuNode } from '../../src/lab/qemu.js';
import { requireLab, withLab } from '../helpers/lab.js';

// The node initramfs booted for real: Debian's amd64 kernel + our initramfs given directly to
// QEMU (TCG), a "controller" made of busybox httpd serving a static boot info file and a
// squashfs, and busybox udhcpd for DHCP, all inside the lab namespace.

const CONTROLLER_PORT = 8080;
const MAC = '52:54:00:bf:00:01'; // the lab's first node
const IMAGE_MARKER = 'BOOTFLEET-IMAGE: init reached';

/** The test image's /sbin/init: proves it ran from RAM, then powers off (QEMU exits). */
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
poweroff -f
`;

const IMAGE_APPLETS = ['sh', 'cat', 'echo', 'hostname', 'ls', 'tr', 'ip', 'sed', 'poweroff', 'mount'];

/** A tiny root (busybox + /sbin/init) as a squashfs; returns its path. */
async function makeSquashfs(dir: string, busybox: string): Promise<string> {
  const root = join(dir, 'image-root');
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp']) await mkdir(join(root, d), { recursive: true });
  await copyFile(busybox, join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  for (const a of IMAGE_APPLETS) await symlink('busybox', join(root, 'bin', a));
  await writeFile(join(root, 'sbin', 'init'), IMAGE_INIT, { mode: 0o755 });
  const out = join(dir, 'root.squashfs');
  await execa('mksquashfs', [root, out, '-noappend', '-all-root', '-quiet', '-no-progress']);
  return out;
}

interface Served {
  httpd: LabProcess;
  www: string;
  squashfs: string;
  sha256: string;
  size: number;
}

/**
 * A stand-in controller that also accepts the event POSTs: static files from `www`, and each
 * POST body printed as `EVENT <path> <body>` (busybox httpd cannot take POSTs without CGI).
 */
const RECORDING_SERVER = `
const http = require('node:http'); const fs = require('node:fs'); const path = require('node:path');
const [www, host, port] = process.argv.slice(1);
http.createServer((req, res) => {
  if (req.method === 'POST') {
    let body = ''; req.on('data', (c) => body += c);
    req.on('end', () => { console.log('EVENT ' + req.url + ' ' + body); res.end('ok'); });
    return;
  }
  const file = path.join(www, decodeURIComponent(req.url.split('?')[0]));
  fs.readFile(file, (err, data) => { if (err) { res.statusCode = 404; res.end(); } else res.end(data); });
}).listen(Number(port), host, () => console.log('LISTENING'));
`;

/** Starts udhcpd (with a DNS option, to see resolv.conf carried over) and httpd in the lab. */
async function controllerSide(lab: Lab, busybox: string, server: 'busybox' | 'recording' = 'busybox'): Promise<Served> {
  const www = join(lab.logDir, 'www');
  await mkdir(join(www, 'api', 'boot'), { recursive: true });
  const squashfs = await makeSquashfs(lab.logDir, busybox);
  const bytes = await readFile(squashfs);
  const conf = join(lab.logDir, 'udhcpd.conf');
  await writeFile(conf, [
    'start 198.18.0.100', 'end 198.18.0.150', 'interface br0', `lease_file ${join(lab.logDir, 'leases')}`,
    `pidfile ${join(lab.logDir, 'udhcpd.pid')}`, 'option subnet 255.255.255.0', `option dns ${lab.address}`, '',
  ].join('\n'));
  await writeFile(join(lab.logDir, 'leases'), '');
  lab.spawn('/bin/busybox', ['udhcpd', '-f', conf], { name: 'udhcpd' });
  const httpd = server === 'busybox'
    ? lab.spawn('/bin/busybox', ['httpd', '-f', '-vv', '-p', `${lab.address}:${CONTROLLER_PORT}`, '-h', www], { name: 'httpd' })
    : lab.spawn(process.execPath, ['-e', RECORDING_SERVER, www, lab.address, String(CONTROLLER_PORT)], { name: 'controller' });
  if (server === 'recording') await httpd.waitFor(/LISTENING/, 10_000);
  return { httpd, www, squashfs, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

function bootinfo(served: Served, squashfsPath: string, overlayUrl = ''): string {
  return [
    'hostname=node-a', 'image=tiny-test', 'version=1', `squashfs_url=http://198.18.0.1:${CONTROLLER_PORT}/${squashfsPath}`,
    `squashfs_sha256=${served.sha256}`, `squashfs_size=${served.size}`, `overlay_url=${overlayUrl}`, 'init=/sbin/init', '',
  ].join('\n');
}

/** A node overlay tar made by GNU tar from `files` (path → content, or `-> target` for a symlink). */
async function overlayTar(dir: string, files: Record<string, string>): Promise<string> {
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

async function bootNode(t: ExecutionContext, lab: Lab, arch: 'amd64' | 'arm64' = 'amd64'): Promise<QemuNode> {
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
async function timeline(t: ExecutionContext, node: QemuNode, steps: RegExp[], timeoutMs: number): Promise<void> {
  const started = Date.now();
  const times: string[] = [];
  for (const re of steps) {
    await node.waitFor(re, timeoutMs - (Date.now() - started));
    times.push(`${re.source}: ${Date.now() - started} ms`);
  }
  t.log(`boot timeline (TCG):\n  ${times.join('\n  ')}`);
}

test('initramfs boot: a node fetches, verifies and switches into a squashfs root on overlay over tmpfs, with no disk', async (t) => {
  await requireLab();
  t.timeout(150_000);
  const lab = await withLab(t);
  const busybox = await debianBusybox('amd64');
  const served = await controllerSide(lab, busybox);
  await symlink(served.squashfs, join(served.www, 'root.squashfs'));
  await writeFile(join(served.www, 'api', 'boot', MAC), bootinfo(served, 'root.squashfs'));

  const node = await bootNode(t, lab);
  await timeline(t, node, [
    /BOOTFLEET: initramfs started/, /BOOTFLEET: dhcp ok/, /BOOTFLEET: root.squashfs verified/,
    /BOOTFLEET: switching root to tiny-test 1/, new RegExp(IMAGE_MARKER),
  ], 130_000);
  t.like(await node.exited, { code: 0 }, 'the image powered off');
  const out = node.output().replace(/\r/g, '');
  t.log(out.split('\n').filter((l) => /^BOOTFLEET|^MOUNT|insmod/.test(l)).join('\n'));
  t.regex(out, /MOUNT: overlay \/ overlay [^\n]*upperdir=\/run\/bootfleet\/rw\/upper/, 'root is overlayfs');
  t.regex(out, /MOUNT: tmpfs \/run\/bootfleet\/rw tmpfs /, 'its upper layer is on tmpfs');
  t.regex(out, /MOUNT: \/dev\/loop\d+ \/run\/bootfleet\/ro squashfs ro/, 'its lower layer is the squashfs, read-only');
  const blocks = /block devices: ([^\n]*)/.exec(out)?.[1] ?? '';
  t.notRegex(blocks, /\b(sd|vd|hd|nvme|mmcblk)/, `no disk attached (saw: ${blocks})`);
  t.regex(out, /BOOTFLEET-IMAGE: hostname node-a/);
  t.regex(out, /BOOTFLEET-IMAGE: etc-hostname node-a/);
  t.regex(out, /BOOTFLEET-IMAGE: addr 198\.18\.0\.1\d\d\/24/, 'the DHCP address survived switch_root');
  t.regex(out, /BOOTFLEET-IMAGE: resolv nameserver 198\.18\.0\.1/, 'resolv.conf carried into the image');
  // busybox httpd refuses the event POSTs (501: no CGI there), which the boot shrugged off.
  t.is(served.httpd.output().match(/url:\/api\/nodes\/52:54:00:bf:00:01\/events\n[^\n]*response:501/g)?.length, 4, 'initramfs, rootfs-fetched, verified, switched');
});

test('initramfs boot: a squashfs with one flipped byte is refused after three downloads and the image init never runs', async (t) => {
  await requireLab();
  t.timeout(150_000);
  const lab = await withLab(t);
  const busybox = await debianBusybox('amd64');
  const served = await controllerSide(lab, busybox);
  const bad = Buffer.from(await readFile(served.squashfs));
  const at = Math.floor(bad.length / 2);
  bad[at] = (bad[at] ?? 0) ^ 0x01;
  await writeFile(join(served.www, 'bad.squashfs'), bad);
  const badSha = createHash('sha256').update(bad).digest('hex');
  // The boot info names the good root's sha256; the URL serves the corrupted copy.
  await writeFile(join(served.www, 'api', 'boot', MAC), bootinfo(served, 'bad.squashfs'));

  const node = await bootNode(t, lab);
  const message = `BOOTFLEET: root.squashfs sha256 mismatch: expected ${served.sha256} got ${badSha}; not booting`;
  await timeline(t, node, [/BOOTFLEET: initramfs started/, new RegExp(message)], 130_000);
  // Give a wrongly continuing boot time to show itself.
  await new Promise((r) => setTimeout(r, 3000));
  const out = node.output();
  t.false(out.includes(IMAGE_MARKER), 'the image init must never run');
  t.false(/switching root/.test(out));
  t.is(out.match(/sha256 mismatch \(attempt \d of 3\)/g)?.length, 2, 'two retries before giving up');
  t.true(node.running, 'the node stays stopped (sleeping), it does not reboot or exit');
});

test('initramfs boot: the node overlay is applied before switch_root (relative URL), and events carry stage and form-encoded detail', async (t) => {
  await requireLab();
  t.timeout(150_000);
  const lab = await withLab(t);
  const served = await controllerSide(lab, await debianBusybox('amd64'), 'recording');
  await symlink(served.squashfs, join(served.www, 'root.squashfs'));
  await symlink(await overlayTar(lab.logDir, { 'etc/node-overlay.txt': 'hello from node-a', 'etc/link': '-> node-overlay.txt' }), join(served.www, 'overlay.tar'));
  await writeFile(join(served.www, 'api', 'boot', MAC), bootinfo(served, 'root.squashfs', '/overlay.tar'));

  const node = await bootNode(t, lab);
  await timeline(t, node, [/BOOTFLEET: node overlay applied/, new RegExp(IMAGE_MARKER), /BOOTFLEET-IMAGE: overlay says hello from node-a/], 130_000);
  t.like(await node.exited, { code: 0 });
  const events = [...served.httpd.output().matchAll(/^EVENT (\S+) (\S*)$/gm)].map((m) => ({ path: m[1], form: new URLSearchParams(m[2]) }));
  t.deepEqual(events.map((e) => e.path), Array(4).fill(`/api/nodes/${MAC}/events`));
  t.deepEqual(events.map((e) => e.form.get('stage')), ['initramfs', 'rootfs-fetched', 'verified', 'switched']);
  t.regex(events[0]?.form.get('detail') ?? '', /^dhcp eth0 198\.18\.0\.\d+\/24 kernel 6\.1\.\S+ uptime [\d.]+s$/);
  t.regex(events[2]?.form.get('detail') ?? '', new RegExp(`^sha256 ${served.sha256} size ${served.size}$`));
  t.regex(events[3]?.form.get('detail') ?? '', /^image tiny-test version 1 init \/sbin\/init uptime/);
  t.log(events.map((e) => `${e.form.get('stage')}: ${e.form.get('detail')}`).join('\n'));
});

test('initramfs boot: a node overlay with a symlink out of the root is refused and the node stops', async (t) => {
  await requireLab();
  t.timeout(150_000);
  const lab = await withLab(t);
  const served = await controllerSide(lab, await debianBusybox('amd64'));
  await symlink(served.squashfs, join(served.www, 'root.squashfs'));
  await symlink(await overlayTar(lab.logDir, { 'etc/node-overlay.txt': 'x', 'etc/evil': '-> /etc/shadow' }), join(served.www, 'overlay.tar'));
  await writeFile(join(served.www, 'api', 'boot', MAC), bootinfo(served, 'root.squashfs', `http://${lab.address}:${CONTROLLER_PORT}/overlay.tar`));

  const node = await bootNode(t, lab);
  await node.waitFor(/BOOTFLEET: node overlay refused: symlink \.\/etc\/evil -> \/etc\/shadow points outside the root; not booting/, 130_000);
  await new Promise((r) => setTimeout(r, 2000));
  t.false(node.output().includes(IMAGE_MARKER));
  t.true(node.running, 'stopped, not rebooting');
});

test('initramfs boot: without bootfleet.controller on the command line the node says so and stops', async (t) => {
  await requireLab();
  t.timeout(120_000);
  const lab = await withLab(t);
  const kernel = await debianKernel('amd64');
  const initrd = join(lab.logDir, 'node-initramfs.cpio.gz');
  await writeFile(initrd, await buildNodeInitramfs({ arch: 'amd64', kernel, busybox: await debianBusybox('amd64') }));
  const node = await lab.addNode({ arch: 'x86_64', network: false, boot: { kernel: kernel.vmlinuz, initrd, append: 'console=ttyS0' } });
  await node.waitFor(/BOOTFLEET: no controller: the kernel command line needs bootfleet\.controller=http:\/\/<addr>:<port>/, 100_000);
  t.true(node.running);
});

test('initramfs boot: arm64 (-M virt, virtio-net-pci) boots the same way into an arm64 squashfs', async (t) => {
  await requireLab('aarch64');
  t.timeout(180_000);
  const lab = await withLab(t);
  const served = await controllerSide(lab, await debianBusybox('arm64'));
  await symlink(served.squashfs, join(served.www, 'root.squashfs'));
  await writeFile(join(served.www, 'api', 'boot', MAC), bootinfo(served, 'root.squashfs'));
  const node = await bootNode(t, lab, 'arm64');
  await timeline(t, node, [
    /BOOTFLEET: initramfs started/, /BOOTFLEET: dhcp ok/, /BOOTFLEET: root.squashfs verified/, new RegExp(IMAGE_MARKER),
  ], 170_000);
  t.like(await node.exited, { code: 0 });
  t.regex(node.output(), /MOUNT: overlay \/ overlay /);
});
