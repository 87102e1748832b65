import test from 'ava';
import { execa } from 'execa';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../../src/lab/lab.js';
import { livePids } from '../../src/lab/process.js';
import { INITRAMFS_MARKER } from '../../src/lab/test-initramfs.js';
import { requireLab, kernelAndInitramfs, withLab } from '../helpers/lab.js';

const marker = new RegExp(INITRAMFS_MARKER);

async function namespaces(): Promise<string> {
  return (await execa('ip', ['netns', 'list'])).stdout;
}

/** Running: it exists and is not a zombie (an ended orphan waits for PID 1 to collect its status, which some containers' PID 1 never does). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}


test('lab: x86_64 QEMU boots the Debian amd64 kernel and the test initramfs to the marker, and destroy leaves nothing behind', async (t) => {
  await requireLab();
  t.timeout(180_000);
  const lab = await withLab(t);
  const { kernel, initrd } = await kernelAndInitramfs(lab, 'amd64');
  const started = Date.now();
  const node = await lab.addNode({ arch: 'x86_64', boot: { kernel: kernel.vmlinuz, initrd } });
  await node.waitFor(marker, 150_000);
  t.log(`amd64 ${kernel.version}: marker after ${Date.now() - started} ms (TCG)`);
  t.like(await node.exited, { code: 0 }, 'poweroff -f ends QEMU (-no-reboot)');
  t.regex(node.command[1].join(' '), /-accel tcg .*-netdev tap,id=n0,ifname=tap1/);

  const ns = lab.ns.name;
  t.true((await namespaces()).includes(ns));
  await lab.destroy();
  t.false((await namespaces()).includes(ns));
  t.false(alive(node.pid));
  t.false(livePids().includes(node.pid));
});

test('lab: aarch64 QEMU (-M virt) boots the Debian arm64 kernel and the arm64 test initramfs to the marker', async (t) => {
  await requireLab('aarch64');
  t.timeout(240_000);
  const lab = await withLab(t);
  const { kernel, initrd } = await kernelAndInitramfs(lab, 'arm64');
  const started = Date.now();
  const node = await lab.addNode({ arch: 'aarch64', machine: 'virt', network: false, boot: { kernel: kernel.vmlinuz, initrd } });
  await node.waitFor(marker, 200_000);
  t.log(`arm64 ${kernel.version} on -M virt: marker after ${Date.now() - started} ms (TCG)`);
  t.like(await node.exited, { code: 0 });
});

test('lab: a network-booting node gets the iPXE ROM on its tap, and a timeout reports the console tail and log path', async (t) => {
  await requireLab();
  const lab = await withLab(t);
  const node = await lab.addNode();
  t.regex(node.command[1].join(' '), /-netdev tap,id=n0,ifname=tap1,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:bf:00:01 -boot n/);
  await node.waitFor(/iPXE/, 60_000);
  // No DHCP server in this lab: iPXE keeps asking; the timeout must say where to look.
  const err = await t.throwsAsync(node.waitFor(/never printed/, 1_000));
  t.regex(err?.message ?? '', /node-1: no \/never printed\/ within 1000 ms \(full log: .*node-1\.log\); last 40 lines:\n[^]*iPXE/);
  const brif = await lab.ns.exec('ip', ['-o', 'link', 'show', 'master', 'br0']);
  t.regex(brif.stdout, /tap1/);
});

test('lab: spawn runs a child inside the lab namespace and destroy stops it by PID', async (t) => {
  await requireLab();
  const lab = await withLab(t);
  const child = lab.spawn('sh', ['-c', 'ip -4 -o addr show br0; echo READY; exec sleep 600'], { name: 'probe' });
  await child.waitFor(/READY/, 10_000);
  t.regex(child.output(), /inet 198\.18\.0\.1\/24/);
  t.true(alive(child.pid));
  await lab.destroy();
  t.false(alive(child.pid));
});

test('lab: destroy also ends what a child left running in the namespace (a killed controller\'s HAProxy) and deletes it, even when called twice at once', async (t) => {
  await requireLab();
  const lab = await withLab(t);
  // A daemon that outlives its parent, as HAProxy does when its controller is SIGKILLed.
  const child = lab.spawn('sh', ['-c', '(setsid sleep 600 >/dev/null 2>&1 & echo ORPHAN $!); echo READY; exec sleep 600'], { name: 'parent' });
  await child.waitFor(/READY/, 10_000);
  const orphan = Number(/ORPHAN (\d+)/.exec(child.output())?.[1]);
  t.true(alive(orphan));
  await Promise.all([lab.destroy(), lab.destroy()]);
  t.false(alive(orphan), 'the orphan was ended');
  t.false((await execa('ip', ['netns', 'list'])).stdout.includes(lab.ns.name), 'the namespace is gone');
});

test('lab: addHost wires another namespace to br0 so it reaches the lab address', async (t) => {
  await requireLab();
  const lab = await withLab(t);
  const host = await lab.addHost('dhcp', '198.18.0.2/24');
  const { stdout } = await host.exec('/bin/busybox', ['ping', '-c', '1', '-W', '3', lab.address]);
  t.regex(stdout, /1 packets received/);
  await lab.destroy();
  t.false((await namespaces()).includes(host.name));
});

test('lab: addresses outside 198.18.0.0/15 are refused before anything is created', async (t) => {
  await t.throwsAsync(Lab.create({ bridgeCidr: '192.168.1.1/24' }), { message: /198\.18\.0\.0\/15/ });
  await t.throwsAsync(Lab.create({ bridgeCidr: '10.0.0.1/8' }), { message: /198\.18\.0\.0\/15/ });
});

test('lab: a node PXE-boots through its iPXE ROM from busybox udhcpd + httpd in the lab and reaches the marker', async (t) => {
  await requireLab();
  t.timeout(240_000);
  const lab = await withLab(t);
  const { kernel, initrd } = await kernelAndInitramfs(lab, 'amd64');
  const www = join(lab.logDir, 'www');
  await mkdir(www);
  await symlink(kernel.vmlinuz, join(www, 'vmlinuz'));
  await symlink(initrd, join(www, 'initrd.gz'));
  await writeFile(join(www, 'boot.ipxe'), `#!ipxe\nkernel http://${lab.address}/vmlinuz console=ttyS0 panic=-1\ninitrd http://${lab.address}/initrd.gz\nboot\n`);
  const conf = join(lab.logDir, 'udhcpd.conf');
  await writeFile(conf, [
    'start 198.18.0.100', 'end 198.18.0.150', 'interface br0', `lease_file ${join(lab.logDir, 'leases')}`, `pidfile ${join(lab.logDir, 'udhcpd.pid')}`,
    `siaddr ${lab.address}`, `boot_file http://${lab.address}/boot.ipxe`, 'option subnet 255.255.255.0', '',
  ].join('\n'));
  await writeFile(join(lab.logDir, 'leases'), '');
  lab.spawn('/bin/busybox', ['udhcpd', '-f', conf], { name: 'udhcpd' });
  lab.spawn('/bin/busybox', ['httpd', '-f', '-vv', '-p', `${lab.address}:80`, '-h', www], { name: 'httpd' });

  const started = Date.now();
  const node = await lab.addNode();
  await node.waitFor(/http:\/\/198\.18\.0\.1\/boot\.ipxe/, 120_000);
  const ipxeAt = Date.now() - started;
  await node.waitFor(marker, 200_000);
  t.log(`PXE (udhcpd, no IPv6 RA): iPXE fetched boot.ipxe after ${ipxeAt} ms, marker after ${Date.now() - started} ms`);
  t.like(await node.exited, { code: 0 });
  t.regex(node.output(), /http:\/\/198\.18\.0\.1\/initrd\.gz/);
});

test('lab: the Pi 3B board model (-M raspi3b) boots the arm64 kernel with its dtb to the marker', async (t) => {
  await requireLab('aarch64');
  t.timeout(240_000);
  const lab = await withLab(t);
  const { kernel, initrd } = await kernelAndInitramfs(lab, 'arm64');
  t.truthy(kernel.dtbDir, 'linux-image-arm64 ships the Pi device trees');
  const dtb = join(kernel.dtbDir ?? '', 'broadcom', 'bcm2837-rpi-3-b.dtb');
  const started = Date.now();
  const node = await lab.addNode({ arch: 'aarch64', machine: 'raspi3b', network: false, boot: { kernel: kernel.vmlinuz, initrd, dtb } });
  await node.waitFor(marker, 200_000);
  t.log(`arm64 on -M raspi3b: marker after ${Date.now() - started} ms (TCG); the board model halts rather than exits, destroy() stops it`);
});
