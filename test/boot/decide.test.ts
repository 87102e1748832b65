import test from 'ava';
import { dhcpBoot, type DhcpContext } from '../../src/boot/decide.js';
import { classifyFirmware, type BootClient } from '../../src/boot/firmware.js';
import { machineSpec, type PolicyContext } from '../../src/boot/policy.js';

// The DHCP part of the boot policy: what a DHCP answer carries, per firmware and admission.

const dhcp: DhcpContext = { httpBase: 'http://198.18.0.1:8080', dhcpMode: 'full' };
const policy: PolicyContext = {
  httpBase: dhcp.httpBase,
  admit: { rpi: 'approve', pc: 'open' },
  enrolled: [],
  configured: new Map(),
  ipxeFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  piBoot: { kernel: 'kernel8.img', initramfs: 'initramfs8', deviceTree: '', cmdline: '' },
  findImage: () => undefined,
};
const fresh = { loadedOurIpxe: false };

function client(over: Partial<BootClient>): BootClient {
  return { mac: '52:54:00:00:00:01', arch: undefined, vendorClass: undefined, userClasses: [], clientUuid: undefined, ...over };
}

/** The answer for one client message, through the machine's spec as the controller computes it. */
function answer(c: BootClient, ctx: Partial<PolicyContext> = {}, progress = fresh, mode: DhcpContext['dhcpMode'] = 'full') {
  const spec = machineSpec({ mac: c.mac, firmware: classifyFirmware(c) }, { ...policy, ...ctx });
  return dhcpBoot(c, spec, progress, { ...dhcp, dhcpMode: mode });
}

const biosPxe = client({ arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' });
const ipxe = client({ arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClasses: ['iPXE'] });
// Pi 4 option 97: type 0, then FourCC "RPi4", board revision, MAC low bytes, serial.
const pi4Uuid = Buffer.concat([Buffer.from([0]), Buffer.from('RPi4', 'latin1'), Buffer.alloc(12, 0x11)]);

test('a BIOS PXE ROM is sent the BIOS iPXE binary over TFTP', (t) => {
  t.deepEqual(answer(biosPxe), { kind: 'tftp', firmware: 'bios', file: 'undionly.kpxe' });
});

test('x86-64 UEFI (arch 7 and 9) gets the EFI iPXE; arm64 UEFI (arch 11) the arm64 one', (t) => {
  for (const arch of [7, 9]) t.like(answer(client({ arch, vendorClass: 'PXEClient:Arch:00007' })), { file: 'snponly.efi' });
  t.like(answer(client({ arch: 11, vendorClass: 'PXEClient:Arch:00011' })), { file: 'ipxe-arm64.efi' });
});

test('iPXE is handed the per-node HTTP script and told to skip the ProxyDHCP wait in full mode', (t) => {
  t.deepEqual(answer(ipxe), { kind: 'ipxe-script', url: 'http://198.18.0.1:8080/boot.ipxe?mac=52%3A54%3A00%3A00%3A00%3A01', skipProxyWait: true });
});

test('in proxy mode iPXE must not skip ProxyDHCP: our answer is the proxy offer itself', (t) => {
  t.like(answer(ipxe, {}, fresh, 'proxy'), { kind: 'ipxe-script', skipProxyWait: false });
});

test('a node set to chainload gets our iPXE first, then the script once it has loaded it', (t) => {
  const configured = new Map([['52:54:00:00:00:01', { chainloadIpxe: true }]]);
  t.like(answer(ipxe, { configured }), { kind: 'tftp', file: 'undionly.kpxe' });
  t.like(answer(ipxe, { configured }, { loadedOurIpxe: true }), { kind: 'ipxe-script' });
});

test('a pending PC gets an address and nothing bootable: no loader, no script', (t) => {
  const admit = { rpi: 'approve' as const, pc: 'approve' as const };
  t.like(answer(biosPxe, { admit }), { kind: 'none' });
  t.like(answer(ipxe, { admit }), { kind: 'none' });
});

test('a Pi 4 is recognised by the RPi4 FourCC in option 97 and gets the Pi menu, pending or not', (t) => {
  const pi4 = client({ mac: 'dc:a6:32:01:02:03', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientUuid: pi4Uuid });
  t.is(classifyFirmware(pi4), 'rpi');
  t.deepEqual(answer(pi4), { kind: 'rpi', model: 'pi4', padMenuString: false });
});

test('only a Pi 3B ROM (constant option 97, b8:27:eb) gets the padded menu string', (t) => {
  const pi3 = client({ mac: 'b8:27:eb:01:02:03', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientUuid: Buffer.alloc(17, 0x44) });
  t.deepEqual(answer(pi3), { kind: 'rpi', model: 'pi3', padMenuString: true });
  const pi3plus = client({ ...pi3, clientUuid: Buffer.from('00112233445566778899aabbccddeeff00', 'hex') });
  t.deepEqual(answer(pi3plus), { kind: 'rpi', model: 'pi3b+', padMenuString: false });
});

test('a plain DHCP client gets no boot info', (t) => {
  t.like(answer(client({ vendorClass: 'udhcp 1.35.0' })), { kind: 'none' });
  t.like(answer(client({})), { kind: 'none' });
});

test('32-bit EFI gets nothing rather than a binary it cannot run', (t) => {
  t.like(answer(client({ arch: 6, vendorClass: 'PXEClient:Arch:00006' })), { kind: 'none' });
});

test('iPXE is a loader, not a firmware: it is classified by the platform it reports in option 93', (t) => {
  const efiIpxe = client({ arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', userClasses: ['iPXE'] });
  t.is(classifyFirmware(efiIpxe), 'efi-x64');
  t.is(classifyFirmware(client({ arch: 11, vendorClass: 'PXEClient:Arch:00011:UNDI:003001', userClasses: ['iPXE'] })), 'efi-arm64');
  t.is(classifyFirmware(ipxe), 'bios');
  t.like(answer(efiIpxe), { kind: 'ipxe-script' });
  t.like(answer(client({ arch: 7, userClasses: ['iPXE'] }), { configured: new Map([['52:54:00:00:00:01', { chainloadIpxe: true }]]) }), { kind: 'tftp', firmware: 'efi-x64', file: 'snponly.efi' });
});

test('our own initramfs names itself in option 60: a directly booted machine, its CPU, and no boot info for it', (t) => {
  const direct = client({ vendorClass: 'bootfleet-initramfs:aarch64' });
  t.is(classifyFirmware(direct), 'direct');
  t.is(classifyFirmware(client({ vendorClass: 'bootfleet-initramfs:aarch64:rpi' })), 'rpi');
  t.like(answer(direct), { kind: 'none', reason: 'our initramfs: booted already' });
  t.like(answer(client({ mac: 'dc:a6:32:01:02:03', vendorClass: 'bootfleet-initramfs:aarch64:rpi' })), { kind: 'none' }, 'no Pi menu for the initramfs of a Pi');
  t.is(classifyFirmware(client({ vendorClass: 'bootfleet-initramfs:mips' })), 'none');
});
