import test from 'ava';
import { decideBoot, type BootPolicy, type NodeBootState } from '../../src/boot/decide.js';
import { classifyFirmware, type BootClient } from '../../src/boot/firmware.js';

const policy: BootPolicy = {
  httpBase: 'http://198.18.0.1:8080',
  ipxeFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  dhcpMode: 'full',
};
const plainNode: NodeBootState = { chainloadIpxe: false, loadedOurIpxe: false };

function client(over: Partial<BootClient>): BootClient {
  return { mac: '52:54:00:00:00:01', arch: undefined, vendorClass: undefined, userClasses: [], clientUuid: undefined, ...over };
}

const biosPxe = client({ arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' });
const ipxe = client({ arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClasses: ['iPXE'] });
// Pi 4 option 97: type 0, then FourCC "RPi4", board revision, MAC low bytes, serial.
const pi4Uuid = Buffer.concat([Buffer.from([0]), Buffer.from('RPi4', 'latin1'), Buffer.alloc(12, 0x11)]);

test('a BIOS PXE ROM is sent the BIOS iPXE binary over TFTP', (t) => {
  t.deepEqual(decideBoot(biosPxe, plainNode, policy), { kind: 'tftp', firmware: 'bios', file: 'undionly.kpxe' });
});

test('x86-64 UEFI (arch 7 and 9) gets the EFI iPXE; arm64 UEFI (arch 11) the arm64 one', (t) => {
  for (const arch of [7, 9]) {
    t.like(decideBoot(client({ arch, vendorClass: 'PXEClient:Arch:00007' }), plainNode, policy), { file: 'snponly.efi' });
  }
  t.like(decideBoot(client({ arch: 11, vendorClass: 'PXEClient:Arch:00011' }), plainNode, policy), { file: 'ipxe-arm64.efi' });
});

test('iPXE is handed the per-node HTTP script and told to skip the ProxyDHCP wait in full mode', (t) => {
  t.deepEqual(decideBoot(ipxe, plainNode, policy), {
    kind: 'ipxe-script',
    url: 'http://198.18.0.1:8080/boot.ipxe?mac=52%3A54%3A00%3A00%3A00%3A01',
    skipProxyWait: true,
  });
});

test('in proxy mode iPXE must not skip ProxyDHCP: our answer is the proxy offer itself', (t) => {
  t.like(decideBoot(ipxe, plainNode, { ...policy, dhcpMode: 'proxy' }), { kind: 'ipxe-script', skipProxyWait: false });
});

test('a node set to chainload gets our iPXE first, then the script once it has loaded it', (t) => {
  t.like(decideBoot(ipxe, { chainloadIpxe: true, loadedOurIpxe: false }, policy), { kind: 'tftp', file: 'undionly.kpxe' });
  t.like(decideBoot(ipxe, { chainloadIpxe: true, loadedOurIpxe: true }, policy), { kind: 'ipxe-script' });
});

test('a Pi 4 is recognised by the RPi4 FourCC in option 97', (t) => {
  const pi4 = client({ mac: 'dc:a6:32:01:02:03', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientUuid: pi4Uuid });
  t.is(classifyFirmware(pi4), 'rpi');
  t.deepEqual(decideBoot(pi4, plainNode, policy), { kind: 'rpi', model: 'pi4', padMenuString: false });
});

test('only a Pi 3B ROM (constant option 97, b8:27:eb) gets the padded menu string', (t) => {
  const pi3 = client({ mac: 'b8:27:eb:01:02:03', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientUuid: Buffer.alloc(17, 0x44) });
  t.deepEqual(decideBoot(pi3, plainNode, policy), { kind: 'rpi', model: 'pi3', padMenuString: true });
  const pi3plus = client({ ...pi3, clientUuid: Buffer.from('00112233445566778899aabbccddeeff00', 'hex') });
  t.deepEqual(decideBoot(pi3plus, plainNode, policy), { kind: 'rpi', model: 'pi3b+', padMenuString: false });
});

test('a plain DHCP client gets no boot info', (t) => {
  t.like(decideBoot(client({ vendorClass: 'udhcp 1.35.0' }), plainNode, policy), { kind: 'none' });
  t.like(decideBoot(client({}), plainNode, policy), { kind: 'none' });
});

test('32-bit EFI gets nothing rather than a binary it cannot run', (t) => {
  t.like(decideBoot(client({ arch: 6, vendorClass: 'PXEClient:Arch:00006' }), plainNode, policy), { kind: 'none' });
});

test('iPXE is a loader, not a firmware: it is classified by the platform it reports in option 93', (t) => {
  t.is(classifyFirmware(client({ arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', userClasses: ['iPXE'] })), 'efi-x64');
  t.is(classifyFirmware(client({ arch: 11, vendorClass: 'PXEClient:Arch:00011:UNDI:003001', userClasses: ['iPXE'] })), 'efi-arm64');
  t.is(classifyFirmware(ipxe), 'bios');
  t.like(decideBoot(client({ arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', userClasses: ['iPXE'] }), plainNode, policy), { kind: 'ipxe-script' });
  t.like(decideBoot(client({ arch: 7, userClasses: ['iPXE'] }), { chainloadIpxe: true, loadedOurIpxe: false }, policy), { kind: 'tftp', firmware: 'efi-x64', file: 'snponly.efi' });
});
