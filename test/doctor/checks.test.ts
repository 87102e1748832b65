import test from 'ava';
import { posix } from 'node:path';
import {
  adminTokenCheck, configCheck, dhcpConflictCheck, exitCode, formatResults, imageCheck, interfaceChecks, isControllerOf, packageCheck, portCheck, privilegesCheck,
} from '../../src/doctor/checks.js';
import type { InterfaceInfo } from '../../src/net/interfaces.js';

const BR0: InterfaceInfo = { name: 'br0', mac: '52:54:00:aa:bb:cc', up: true, loopback: false, addresses: [{ address: '198.18.0.1', prefix: 24 }] };
const C = { interface: 'br0', address: '198.18.0.1', prefix: 24 };

test('privileges: root, or the capabilities the controller uses', (t) => {
  t.is(privilegesCheck({ uid: 0, caps: [], needsNetAdmin: true }).verdict, 'ok');
  t.is(privilegesCheck({ uid: 1000, caps: ['CAP_NET_RAW', 'CAP_NET_BIND_SERVICE'], needsNetAdmin: false }).verdict, 'ok');
  const missing = privilegesCheck({ uid: 1000, caps: ['CAP_NET_RAW', 'CAP_NET_BIND_SERVICE'], needsNetAdmin: true });
  t.is(missing.verdict, 'fail');
  t.regex(missing.detail, /without CAP_NET_ADMIN/);
  t.regex(missing.fix ?? '', /contrib\/bootfleet\.service/);
});

test('config: missing names init, invalid names the keys', (t) => {
  t.is(configCheck('b.yaml', { ok: true }).verdict, 'ok');
  t.regex(configCheck('b.yaml', { ok: false, message: 'cannot read', missing: true }).fix ?? '', /sudo bootfleet init --config b\.yaml$/);
  const invalid = configCheck('b.yaml', { ok: false, message: 'b.yaml is invalid:\n  - dhcp.range: required', missing: false });
  t.is(invalid.verdict, 'fail');
  t.regex(invalid.detail, /dhcp\.range/);
});

test('interface: missing, down, without the address, with another prefix, and fine', (t) => {
  const missing = interfaceChecks(C, [{ ...BR0, name: 'eth0' }]);
  t.is(missing[0]?.verdict, 'fail');
  t.regex(missing[0]?.fix ?? '', /one of: eth0/);
  const down = interfaceChecks(C, [{ ...BR0, up: false }]);
  t.is(down[0]?.fix, 'ip link set br0 up');
  const bare = interfaceChecks(C, [{ ...BR0, addresses: [] }]);
  t.is(bare[1]?.verdict, 'fail');
  t.regex(bare[1]?.fix ?? '', /^ip addr add 198\.18\.0\.1\/24 dev br0 /);
  t.is(interfaceChecks(C, [{ ...BR0, addresses: [{ address: '198.18.0.1', prefix: 16 }] }])[1]?.verdict, 'warn');
  t.deepEqual(interfaceChecks(C, [BR0]).map((r) => r.verdict), ['ok', 'ok']);
  const outside = interfaceChecks({ ...C, outsideInterface: 'eth9' }, [BR0]);
  t.is(outside.at(-1)?.name, 'outside interface');
  t.is(outside.at(-1)?.verdict, 'fail');
});

test('ports: free or held by our controller is fine; another holder is named with how to stop it', (t) => {
  t.is(portCheck({ what: '67/udp on br0 (DHCP)', result: { kind: 'free' } }).verdict, 'ok');
  const ours = portCheck({ what: '67/udp on br0 (DHCP)', result: { kind: 'in-use', holder: { pid: 42, command: 'node cli.js controller', ours: true } } });
  t.is(ours.verdict, 'ok');
  t.regex(ours.detail, /running bootfleet controller \(pid 42/);
  const dnsmasq = portCheck({ what: '67/udp on br0 (DHCP)', result: { kind: 'in-use', holder: { pid: 77, command: '/usr/sbin/dnsmasq -k', ours: false } } });
  t.is(dnsmasq.verdict, 'fail');
  t.is(dnsmasq.fix, 'stop it: systemctl stop dnsmasq (or kill 77); or change the port in the config');
  t.regex(portCheck({ what: '69/udp on 198.18.0.1 (TFTP)', result: { kind: 'in-use', holder: { pid: 5, command: '/usr/sbin/in.tftpd --listen', ours: false } } }).fix ?? '', /systemctl stop tftpd-hpa/);
  t.regex(portCheck({ what: '8080/tcp on 198.18.0.1 (HTTP)', result: { kind: 'in-use' } }).fix ?? '', /ss -lnptu \| grep ':8080 '/);
  t.regex(portCheck({ what: '67/udp on br0 (DHCP)', result: { kind: 'denied' } }).fix ?? '', /as root/);
});

test('packages: required ones FAIL, optional ones WARN, both with the apt-get line', (t) => {
  const base = { command: 'haproxy', pkg: 'haproxy', why: 'managed balancer', required: true };
  t.is(packageCheck({ ...base, present: true }).verdict, 'ok');
  const missing = packageCheck({ ...base, present: false });
  t.is(missing.verdict, 'fail');
  t.is(missing.fix, 'apt-get install -y haproxy');
  t.is(packageCheck({ ...base, required: false, present: false }).verdict, 'warn');
});

test('another DHCP server: FAIL in full mode with what to do, fine in proxy mode, warned when proxy hears nobody', (t) => {
  const other = [{ server: '198.18.0.254', offered: '198.18.0.50' }];
  const full = dhcpConflictCheck({ interface: 'br0', mode: 'full', configFile: 'b.yaml', probe: { kind: 'offers', others: other } });
  t.is(full.verdict, 'fail');
  t.regex(full.detail, /198\.18\.0\.254 \(offered 198\.18\.0\.50\)/);
  t.regex(full.fix ?? '', /set dhcp\.mode: proxy in b\.yaml .* or stop the other DHCP server/);
  t.is(dhcpConflictCheck({ interface: 'br0', mode: 'proxy', configFile: 'b.yaml', probe: { kind: 'offers', others: other } }).verdict, 'ok');
  t.is(dhcpConflictCheck({ interface: 'br0', mode: 'full', configFile: 'b.yaml', probe: { kind: 'offers', others: [] } }).verdict, 'ok');
  t.is(dhcpConflictCheck({ interface: 'br0', mode: 'proxy', configFile: 'b.yaml', probe: { kind: 'offers', others: [] } }).verdict, 'warn');
  t.is(dhcpConflictCheck({ interface: 'br0', mode: 'full', configFile: 'b.yaml', probe: { kind: 'skipped', why: 'needs root' } }).verdict, 'warn');
});

test('images and the admin token', (t) => {
  t.is(imageCheck({ defaultImage: 'tiny-web', built: ['tiny-web'], store: '/s' }).verdict, 'ok');
  t.is(imageCheck({ defaultImage: 'tiny-web@0123456789ab', built: ['tiny-web'], store: '/s' }).verdict, 'ok');
  const unbuilt = imageCheck({ defaultImage: 'debian-web', built: ['tiny-web'], store: '/s' });
  t.is(unbuilt.verdict, 'fail');
  t.is(unbuilt.fix, 'bootfleet image build images/debian-web.yaml --store /s');
  t.is(imageCheck({ built: [], store: '/s' }).verdict, 'warn');
  t.is(adminTokenCheck({ present: true, file: '/v/admin-token', configFile: 'b.yaml' }).verdict, 'ok');
  t.regex(adminTokenCheck({ present: false, file: '/v/admin-token', configFile: 'b.yaml' }).fix ?? '', /bootfleet controller --config b\.yaml/);
});

test('exit code and output: 1 only with a FAIL; each problem is followed by its fix', (t) => {
  const okOne = { name: 'a', verdict: 'ok' as const, detail: 'fine' };
  const warn = { name: 'b', verdict: 'warn' as const, detail: 'hm', fix: 'do x' };
  const fail = { name: 'c', verdict: 'fail' as const, detail: 'broken', fix: 'do y' };
  t.is(exitCode([okOne, warn]), 0);
  t.is(exitCode([okOne, fail]), 1);
  t.is(formatResults([okOne, fail]), 'OK    a: fine\nFAIL  c: broken\n      fix: do y\n');
});

test('the port holder is our controller when it runs `controller` with this config file', (t) => {
  const cfg = '/etc/bootfleet/bootfleet.yaml';
  t.true(isControllerOf(['node', '/usr/bin/bootfleet', 'controller', '--config', cfg], '/', cfg, posix.resolve));
  t.true(isControllerOf(['node', 'cli.js', 'controller', '-c', 'bootfleet.yaml'], '/etc/bootfleet', cfg, posix.resolve));
  t.true(isControllerOf(['node', 'cli.js', 'controller', `--config=${cfg}`], '/', cfg, posix.resolve));
  t.true(isControllerOf(['bootfleet', 'controller'], '/etc/bootfleet', cfg, posix.resolve), 'the default config in its working folder');
  t.false(isControllerOf(['node', 'cli.js', 'controller', '--config', '/other.yaml'], '/', cfg, posix.resolve));
  t.false(isControllerOf(['/usr/sbin/dnsmasq', '-k'], '/', cfg, posix.resolve));
});
