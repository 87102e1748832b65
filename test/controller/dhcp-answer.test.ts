import test from 'ava';
import { dhcpAnswerFor, piBootMenu } from '../../src/controller/dhcp-answer.js';
import { Opt } from '../../src/dhcp/options.js';

const server = { address: '198.18.0.1' };

test('option 43 for a Pi is the 32 bytes dnsmasq sends for "Raspberry Pi Boot"', (t) => {
  const expected = Buffer.concat([
    Buffer.from('060103', 'hex'),
    Buffer.from('0a0400505845', 'hex'),
    Buffer.from('091400001152', 'hex').subarray(0, 5),
    Buffer.from('Raspberry Pi Boot', 'latin1'),
    Buffer.from('ff', 'hex'),
  ]);
  t.is(expected.length, 32);
  t.deepEqual(piBootMenu(false), expected);
});

test('the Pi 3B form pads the description to 20 characters (sub-option length 23)', (t) => {
  const b = piBootMenu(true);
  t.is(b.length, 35);
  t.deepEqual([...b.subarray(9, 14)], [9, 23, 0, 0, 20]);
  t.is(b.subarray(14, 34).toString('latin1'), 'Raspberry Pi Boot   ');
});

test('a Pi answer binds on OFFER and names the TFTP server in siaddr and option 66', (t) => {
  const a = dhcpAnswerFor({ kind: 'rpi', model: 'pi4', padMenuString: false }, server);
  t.is(a?.siaddr, '198.18.0.1');
  t.true(a?.commitOnOffer);
  t.deepEqual(a?.options?.find(([c]) => c === Opt.TftpServerName)?.[1].toString(), '198.18.0.1');
  t.deepEqual(a?.options?.find(([c]) => c === Opt.VendorClass)?.[1].toString(), 'PXEClient');
});

test('iPXE in full mode gets the script URL and option 175.176 = 1; in proxy mode PXEClient instead', (t) => {
  const full = dhcpAnswerFor({ kind: 'ipxe-script', url: 'http://198.18.0.1:8080/boot.ipxe?mac=x', skipProxyWait: true }, server);
  t.is(full?.file, 'http://198.18.0.1:8080/boot.ipxe?mac=x');
  t.is(full?.siaddr, '198.18.0.1', 'iPXE ignores a ProxyDHCP answer without siaddr');
  t.deepEqual(full?.options?.find(([c]) => c === Opt.IpxeEncap)?.[1], Buffer.from([176, 1, 1, 255]));
  const proxy = dhcpAnswerFor({ kind: 'ipxe-script', url: 'u', skipProxyWait: false }, server);
  t.is(proxy?.options?.find(([c]) => c === Opt.IpxeEncap), undefined);
  t.truthy(proxy?.options?.find(([c]) => c === Opt.VendorClass));
});

test('a BIOS PXE ROM gets the file, siaddr and discovery control 8', (t) => {
  const a = dhcpAnswerFor({ kind: 'tftp', firmware: 'bios', file: 'undionly.kpxe' }, server);
  t.like(a, { siaddr: '198.18.0.1', file: 'undionly.kpxe' });
  t.deepEqual(a?.options?.find(([c]) => c === Opt.VendorSpecific)?.[1], Buffer.from([6, 1, 8, 255]));
});

test('nothing to boot adds nothing', (t) => {
  t.is(dhcpAnswerFor({ kind: 'none', reason: 'x' }, server), undefined);
});
