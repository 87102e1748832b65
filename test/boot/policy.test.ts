import test from 'ava';
import { machineSpec, tftpAccess, type Machine, type PolicyContext } from '../../src/boot/policy.js';
import type { BootImage } from '../../src/images/boot-image.js';

// The one boot policy, per firmware kind and per admission case, without sockets or root.

const image = (arch: string): BootImage => ({
  name: 'tiny-web', version: `0123456789ab-${arch}`, arch, dir: `/store/tiny-web/0123456789ab-${arch}`,
  files: { vmlinuz: { sha256: 'e'.repeat(64), size: 99 } },
  layers: [{ role: 'base', sha256: 'b'.repeat(64), size: 4321 }, { role: 'image', sha256: 'c'.repeat(64), size: 12 }],
});

function ctx(over: Partial<PolicyContext> = {}): PolicyContext {
  return {
    httpBase: 'http://198.18.0.1:8080',
    admit: { rpi: 'approve', pc: 'open' },
    enrolled: [],
    configured: new Map(),
    defaultImage: 'tiny-web',
    ipxeFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
    piBoot: { kernel: 'kernel8.img', initramfs: 'initramfs8', deviceTree: '', cmdline: '' },
    findImage: (ref, arch) => (ref.startsWith('tiny-web') ? image(arch) : undefined),
    ...over,
  };
}

const pc = (firmware: Machine['firmware'], mac = '52:54:00:00:00:01'): Machine => ({ mac, firmware });
const pi: Machine = { mac: 'dc:a6:32:01:02:03', firmware: 'rpi', serial: '9ffefdef' };

test('a BIOS PC is admitted by default and gets the BIOS iPXE, its amd64 image, kernel, initrd and ttyS0', (t) => {
  const spec = machineSpec(pc('bios'), ctx());
  t.like(spec, { admission: 'admitted', loader: 'undionly.kpxe', arch: 'amd64', hostname: 'node-525400000001', imageRef: 'tiny-web' });
  t.is(spec.image?.version, '0123456789ab-amd64');
  t.deepEqual(spec.kernel, { name: 'vmlinuz', url: 'http://198.18.0.1:8080/images/tiny-web/0123456789ab-amd64/vmlinuz?mac=52:54:00:00:00:01' });
  t.deepEqual(spec.initrds.map((i) => i.name), ['initrd.img']);
  t.is(spec.cmdline, 'console=ttyS0 panic=10 bootfleet.controller=http://198.18.0.1:8080');
  t.deepEqual(spec.root, { legacy: false, layers: [
    { url: `http://198.18.0.1:8080/layers/${'b'.repeat(64)}.squashfs`, sha256: 'b'.repeat(64), size: 4321 },
    { url: `http://198.18.0.1:8080/layers/${'c'.repeat(64)}.squashfs`, sha256: 'c'.repeat(64), size: 12 },
  ] }, 'the layers of its one build, bottom first, from the shared layer route');
  t.is(spec.overlayUrl, 'http://198.18.0.1:8080/overlay/52:54:00:00:00:01');
});

test('a boot set built before layers is a root of one layer, its own root.squashfs, marked legacy', (t) => {
  const old: BootImage = { ...image('amd64'), files: { 'root.squashfs': { sha256: 'f'.repeat(64), size: 1234 } } };
  delete old.layers;
  const spec = machineSpec(pc('bios'), ctx({ findImage: () => old }));
  t.deepEqual(spec.root, { legacy: true, layers: [{ url: 'http://198.18.0.1:8080/images/tiny-web/0123456789ab-amd64/root.squashfs', sha256: 'f'.repeat(64), size: 1234 }] });
  t.is(machineSpec(pc('bios'), ctx({ findImage: () => ({ ...old, files: {} }) })).root, undefined, 'no layers and no root.squashfs: nothing to boot');
});

test('x86-64 UEFI gets snponly.efi; arm64 UEFI gets the arm64 iPXE, the arm64 image and ttyAMA0', (t) => {
  t.like(machineSpec(pc('efi-x64'), ctx()), { loader: 'snponly.efi', arch: 'amd64' });
  const arm = machineSpec(pc('efi-arm64'), ctx());
  t.like(arm, { loader: 'ipxe-arm64.efi', arch: 'arm64' });
  t.is(arm.image?.arch, 'arm64');
  t.regex(arm.cmdline, /console=ttyAMA0/);
});

test('the CPU a node reports itself wins over the guess from its firmware', (t) => {
  t.is(machineSpec({ ...pc('bios'), arch: 'arm64' }, ctx()).image?.arch, 'arm64');
});

test('an unknown Pi is pending: nothing bootable, not even its image (admission never fails open)', (t) => {
  const spec = machineSpec(pi, ctx());
  t.like(spec, { admission: 'pending', arch: 'arm64' });
  t.regex(spec.reason, /waiting for approval/);
  t.is(spec.image, undefined);
  t.is(spec.kernel, undefined);
  t.is(spec.root, undefined);
  t.false(tftpAccess(spec, { underPrefix: true, name: 'start4.elf' }));
  t.false(tftpAccess(spec, { underPrefix: false, name: 'start4.elf' }));
  t.true(tftpAccess(spec, { underPrefix: false, name: 'bootcode.bin' }), 'the generic Pi 3 bootcode.bin, so a Pi 3 can reveal its serial');
});

test('a Pi enrolled by serial, or by MAC alone (TFTP_PREFIX=2), is admitted with its hostname and image', (t) => {
  const bySerial = machineSpec(pi, ctx({ enrolled: [{ serial: '9ffefdef', hostname: 'web1', addedAt: '' }] }));
  t.like(bySerial, { admission: 'admitted', hostname: 'web1', reason: 'enrolled by serial 9ffefdef' });
  t.is(bySerial.pi?.filesDir, '/store/tiny-web/0123456789ab-arm64/rpi');
  t.true(tftpAccess(bySerial, { underPrefix: true, name: 'start4.elf' }));
  const byMac = machineSpec({ mac: pi.mac, firmware: 'rpi' }, ctx({ enrolled: [{ mac: pi.mac, addedAt: '' }] }));
  t.like(byMac, { admission: 'admitted', reason: 'enrolled by MAC' });
});

test('a serial enrolled together with a MAC does not admit another machine asking under that serial', (t) => {
  const enrolled = [{ serial: '9ffefdef', mac: 'dc:a6:32:0a:0b:0c', addedAt: '' }];
  t.is(machineSpec(pi, ctx({ enrolled })).admission, 'pending');
});

test('policy.admit: PCs can be made to wait for approval, Pis can be let in without it', (t) => {
  t.is(machineSpec(pc('bios'), ctx({ admit: { rpi: 'approve', pc: 'approve' } })).admission, 'pending');
  t.is(machineSpec(pc('bios'), ctx({ admit: { rpi: 'approve', pc: 'approve' }, configured: new Map([['52:54:00:00:00:01', { chainloadIpxe: false }]]) })).admission, 'admitted', 'listing a MAC in nodes: approves it');
  t.is(machineSpec(pi, ctx({ admit: { rpi: 'open', pc: 'open' } })).admission, 'admitted');
});

test('a client we have no loader for is refused, and gets nothing over TFTP', (t) => {
  const spec = machineSpec(pc('none'), ctx());
  t.is(spec.admission, 'refused');
  t.false(tftpAccess(spec, { underPrefix: false, name: 'bootcode.bin' }));
});

test('hostname and image come from the enrollment, then the config entry, then the defaults', (t) => {
  const configured = new Map([['52:54:00:00:00:01', { hostname: 'cfg', image: 'tiny-web@0123456789ab', chainloadIpxe: true }]]);
  t.like(machineSpec(pc('bios'), ctx({ configured })), { hostname: 'cfg', imageRef: 'tiny-web@0123456789ab', chainloadIpxe: true });
  const enrolled = [{ mac: '52:54:00:00:00:01', hostname: 'enr', image: 'other', addedAt: '' }];
  const spec = machineSpec(pc('bios'), ctx({ configured, enrolled }));
  t.like(spec, { hostname: 'enr', imageRef: 'other' });
  t.is(spec.image, undefined, 'an image without a build is named but not resolved');
  t.is(spec.root, undefined);
});

test('without an image, boot.default gives a plain kernel and initrds from bootDir', (t) => {
  const spec = machineSpec(pc('bios'), ctx({ defaultImage: undefined, bootDefault: { kernel: 'k/vmlinuz', initrd: ['i.img'], cmdline: 'quiet' } }));
  t.deepEqual(spec.kernel, { name: 'vmlinuz', url: 'http://198.18.0.1:8080/files/k/vmlinuz?mac=52:54:00:00:00:01' });
  t.deepEqual(spec.initrds, [{ name: 'i.img', url: 'http://198.18.0.1:8080/files/i.img?mac=52:54:00:00:00:01' }]);
  t.is(spec.cmdline, 'quiet');
});
