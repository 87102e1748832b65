import test from 'ava';
import { checkAnswers, defaultRange, defaultStateDir, parseCidr, parseRange, proposeDhcpMode, type InitAnswers } from '../../src/init/plan.js';
import { parseIpAddr, formatInterfaces } from '../../src/net/interfaces.js';

test('proxy mode is proposed when another DHCP server offers an address; our own answers do not count', (t) => {
  const own = ['198.18.0.1'];
  t.is(proposeDhcpMode({ kind: 'offers', offers: [] }, own).mode, 'full');
  t.is(proposeDhcpMode({ kind: 'offers', offers: [{ server: '198.18.0.1', offered: '198.18.0.150' }] }, own).mode, 'full', 'the controller itself answering');
  const other = proposeDhcpMode({ kind: 'offers', offers: [{ server: '198.18.0.254', offered: '198.18.0.50' }] }, own);
  t.is(other.mode, 'proxy');
  t.regex(other.why, /198\.18\.0\.254 \(offered 198\.18\.0\.50\)/);
  const skipped = proposeDhcpMode({ kind: 'skipped', why: 'needs root' }, own);
  t.is(skipped.mode, 'full');
  t.regex(skipped.why, /needs root/);
});

test('default range: .100-.199 of a /24, the upper half otherwise, never the controller\'s address', (t) => {
  t.deepEqual(defaultRange('198.18.0.1', 24), ['198.18.0.100', '198.18.0.199']);
  t.deepEqual(defaultRange('198.18.0.150', 24), ['198.18.0.151', '198.18.0.199']);
  t.deepEqual(defaultRange('198.18.0.1', 25), ['198.18.0.64', '198.18.0.126']);
  t.deepEqual(defaultRange('198.18.4.1', 22), ['198.18.6.0', '198.18.7.254']);
  t.is(defaultRange('198.18.0.1', 30), undefined, 'too small to share');
});

test('address/prefix and range parsing', (t) => {
  t.deepEqual(parseCidr('198.18.0.1/24'), { address: '198.18.0.1', prefix: 24 });
  t.deepEqual(parseCidr('198.18.0.1'), { address: '198.18.0.1', prefix: 24 });
  t.is(parseCidr('198.18.0.1/31'), undefined);
  t.is(parseCidr('br0'), undefined);
  t.deepEqual(parseRange('198.18.0.100-198.18.0.199'), ['198.18.0.100', '198.18.0.199']);
  t.deepEqual(parseRange('198.18.0.100, 198.18.0.199'), ['198.18.0.100', '198.18.0.199']);
  t.is(parseRange('100-199'), undefined);
});

test('answer checks name the flag to fix', (t) => {
  const base: InitAnswers = { interface: 'br0', address: '198.18.0.1', prefix: 24, dhcp: 'full', range: ['198.18.0.100', '198.18.0.199'], nat: false, stateDir: './var' };
  t.deepEqual(checkAnswers(base, ['br0', 'eth0']), []);
  t.regex(checkAnswers({ ...base, interface: 'br9' }, ['br0']).join(), /--interface br9: no such interface/);
  t.regex(checkAnswers({ ...base, outside: 'br0' }, ['br0']).join(), /--outside br0: must differ/);
  t.regex(checkAnswers({ ...base, nat: true }, ['br0']).join(), /--nat: needs --outside/);
  t.regex(checkAnswers({ ...base, range: ['198.19.0.1', '198.19.0.9'] }, ['br0']).join(), /--range .* inside 198\.18\.0\.1\/24/);
  t.regex(checkAnswers({ interface: 'br0', address: '198.18.0.1', prefix: 24, dhcp: 'full', nat: false, stateDir: '.' }, ['br0']).join(), /--range: full DHCP mode needs a range.*198\.18\.0\.100-198\.18\.0\.199/);
});

test('ip -j addr is read into interfaces with their IPv4 addresses', (t) => {
  const json = JSON.stringify([
    { ifname: 'lo', flags: ['LOOPBACK', 'UP'], link_type: 'loopback', address: '00:00:00:00:00:00', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
    { ifname: 'br0', flags: ['BROADCAST', 'UP', 'LOWER_UP'], link_type: 'ether', address: '52:54:00:aa:bb:cc', addr_info: [{ family: 'inet6', local: 'fe80::1', prefixlen: 64 }, { family: 'inet', local: '198.18.0.1', prefixlen: 24 }] },
    { ifname: 'eth1', flags: ['BROADCAST'], link_type: 'ether', address: '52:54:00:aa:bb:cd', addr_info: [] },
  ]);
  const list = parseIpAddr(json);
  t.deepEqual(list[1], { name: 'br0', mac: '52:54:00:aa:bb:cc', up: true, loopback: false, addresses: [{ address: '198.18.0.1', prefix: 24 }] });
  t.false(list[2]?.up);
  t.is(list[0]?.mac, undefined, 'no MAC for loopback');
  t.regex(formatInterfaces(list), /^br0 +52:54:00:aa:bb:cc +up +198\.18\.0\.1\/24$/m);
  t.regex(formatInterfaces(list), /^eth1 .* down +\(no IPv4 address\)$/m);
});

test('state lives in /var/lib/bootfleet for a config under /etc, else beside the config', (t) => {
  t.is(defaultStateDir('/etc/bootfleet/bootfleet.yaml'), '/var/lib/bootfleet');
  t.is(defaultStateDir('/home/me/lab/bootfleet.yaml'), './var');
});
