import test from 'ava';
import { parseConfig } from '../../src/config.js';

const base = {
  controller: { interface: 'br0', address: '198.18.0.1', httpPort: 8080, stateDir: './var' },
  dhcp: { mode: 'full', range: ['198.18.0.100', '198.18.0.199'], leaseSeconds: 3600 },
};

test('the documented example is valid and paths resolve against the config file', (t) => {
  const r = parseConfig(base, '/etc/bootfleet', '/opt/bootfleet');
  if (!r.ok) return t.fail(r.errors.join('\n'));
  t.is(r.config.controller.stateDir, '/etc/bootfleet/var');
  t.is(r.config.controller.bootDir, '/etc/bootfleet/var/boot');
  t.is(r.config.controller.templatesDir, '/opt/bootfleet/pxe');
  t.is(r.config.dhcp.mode, 'full');
});

function errorsOf(input: unknown): string[] {
  const r = parseConfig(input, '/x', '/y');
  return r.ok ? [] : r.errors;
}

test('every error names the key to fix', (t) => {
  t.deepEqual(errorsOf({ ...base, controller: { ...base.controller, address: '198.18.0.300' } }), [
    'controller.address: must be an IPv4 address like 198.18.0.1',
  ]);
  t.regex(errorsOf({ ...base, dhcp: { ...base.dhcp, mode: 'fulll' } })[0] ?? '', /^dhcp\.mode: /);
  t.regex(errorsOf({ ...base, controller: { ...base.controller, httpPort: 70000 } })[0] ?? '', /^controller\.httpPort: /);
  t.regex(errorsOf({ dhcp: base.dhcp })[0] ?? '', /^controller: /);
});

test('a misspelt key is reported, not ignored', (t) => {
  t.deepEqual(errorsOf({ ...base, dhcp: { ...base.dhcp, leaseSecond: 60 } }), ['dhcp.leaseSecond: unknown key (check the spelling)']);
});

test('full mode needs a range inside the controller subnet that excludes the controller', (t) => {
  t.regex(errorsOf({ ...base, dhcp: { mode: 'full' } })[0] ?? '', /^dhcp\.range: required/);
  t.deepEqual(errorsOf({ ...base, dhcp: { ...base.dhcp, range: ['198.18.0.100', '198.19.0.5'] } }), [
    'dhcp.range.1: 198.19.0.5 is outside 198.18.0.1/24 (controller.address/prefix)',
  ]);
  t.deepEqual(errorsOf({ ...base, dhcp: { ...base.dhcp, range: ['198.18.0.1', '198.18.0.9'] } }), ['dhcp.range: contains controller.address 198.18.0.1']);
});

test('proxy mode needs no range', (t) => {
  t.deepEqual(errorsOf({ ...base, dhcp: { mode: 'proxy' } }), []);
});

test('reservations are checked and MACs canonicalised', (t) => {
  const r = parseConfig({ ...base, dhcp: { ...base.dhcp, reservations: [{ mac: '52-54-00-AA-BB-CC', address: '198.18.0.50' }] } }, '/x', '/y');
  t.true(r.ok && r.config.dhcp.reservations[0]?.mac === '52:54:00:aa:bb:cc');
  t.deepEqual(errorsOf({ ...base, dhcp: { ...base.dhcp, reservations: [{ mac: 'nope', address: '198.18.0.50' }] } }), [
    'dhcp.reservations.0.mac: must be a MAC address like 52:54:00:12:34:56',
  ]);
});

test('nodes[].image takes exactly the references the image store does', (t) => {
  const withImage = (image: string) => errorsOf({ ...base, nodes: [{ mac: '52:54:00:00:00:01', image }] });
  for (const ok of ['tiny-web', 'web_1.x', 'tiny-web@0123456789ab', 'tiny-web@0123456789ab-arm64']) t.deepEqual(withImage(ok), [], ok);
  for (const bad of ['Tiny', '-web', 'tiny-web@123', 'tiny-web@0123456789ab-', '../x']) {
    t.deepEqual(withImage(bad), ['nodes.0.image: must be an image name like tiny-web, optionally @<version>'], bad);
  }
});

test('tftp limits default to the server defaults and are range-checked by key', (t) => {
  const r = parseConfig(base, '/x', '/y');
  if (!r.ok) return t.fail(r.errors.join('\n'));
  t.deepEqual(r.config.tftp, { maxTransfers: 256, maxTransfersPerClient: 8, maxTimeoutSeconds: 10, cacheMiB: 512 });
  const partial = parseConfig({ ...base, tftp: { maxTransfers: 64 } }, '/x', '/y');
  t.like(partial.ok ? partial.config.tftp : {}, { maxTransfers: 64, maxTransfersPerClient: 8 });
  t.regex(errorsOf({ ...base, tftp: { maxTimeoutSeconds: 256 } })[0] ?? '', /^tftp\.maxTimeoutSeconds: /);
  t.regex(errorsOf({ ...base, tftp: { maxTransfers: 0 } })[0] ?? '', /^tftp\.maxTransfers: /);
  t.deepEqual(errorsOf({ ...base, tftp: { maxTransfers: 4, maxTransfersPerClient: 8 } }), [
    'tftp.maxTransfersPerClient: 8 is above tftp.maxTransfers (4); lower it or raise maxTransfers',
  ]);
  t.deepEqual(errorsOf({ ...base, tftp: { cacheMB: 1 } }), ['tftp.cacheMB: unknown key (check the spelling)']);
});

test('store: file by default; etcd needs its endpoints, and each key is checked', (t) => {
  const r = parseConfig(base, '/x', '/y');
  if (!r.ok) return t.fail(r.errors.join('\n'));
  t.deepEqual(r.config.store, { kind: 'file', prefix: '/bootfleet/', leaseTtlSeconds: 5, dialTimeoutSeconds: 5 });
  const endpoints = ['http://198.18.0.11:2379', 'http://198.18.0.12:2379', 'http://198.18.0.13:2379'];
  const etcd = parseConfig({ ...base, store: { kind: 'etcd', endpoints, leaseTtlSeconds: 3 } }, '/x', '/y');
  t.like(etcd.ok ? etcd.config.store : {}, { kind: 'etcd', endpoints, leaseTtlSeconds: 3 });
  t.regex(errorsOf({ ...base, store: { kind: 'etcd' } })[0] ?? '', /^store\.endpoints: required when store\.kind is etcd/);
  t.regex(errorsOf({ ...base, store: { endpoints } })[0] ?? '', /^store\.endpoints: only used with store\.kind etcd/);
  t.regex(errorsOf({ ...base, store: { kind: 'etcd', endpoints: ['198.18.0.11:2379'] } })[0] ?? '', /^store\.endpoints\.0: must be a URL/);
  t.regex(errorsOf({ ...base, store: { kind: 'etcd', endpoints, prefix: 'bootfleet' } })[0] ?? '', /^store\.prefix: /);
  t.regex(errorsOf({ ...base, store: { kind: 'etcd', endpoints, leaseTtlSeconds: 1 } })[0] ?? '', /^store\.leaseTtlSeconds: /);
  t.regex(errorsOf({ ...base, controller: { ...base.controller, name: 'Ctl A' } })[0] ?? '', /^controller\.name: /);
});

test('dhcp.relays: a rack subnet with its range and router is valid and defaults to no relays', (t) => {
  const none = parseConfig(base, '/x', '/y');
  t.deepEqual(none.ok ? none.config.dhcp.relays : undefined, []);
  const r = parseConfig({ ...base, dhcp: { ...base.dhcp, relays: [{ subnet: '198.19.1.0/24', range: ['198.19.1.100', '198.19.1.199'], router: '198.19.1.1' }] } }, '/x', '/y');
  if (!r.ok) return t.fail(r.errors.join('\n'));
  t.like(r.config.dhcp.relays[0], { subnet: '198.19.1.0/24', router: '198.19.1.1' });
});

test('dhcp.relays: every mistake names the entry and the field to fix', (t) => {
  const relay = { subnet: '198.19.1.0/24', range: ['198.19.1.100', '198.19.1.199'], router: '198.19.1.1' };
  const withRelays = (...relays: unknown[]) => errorsOf({ ...base, dhcp: { ...base.dhcp, relays } });
  t.deepEqual(withRelays({ ...relay, subnet: '198.19.1.0' }), ['dhcp.relays.0.subnet: must be a subnet like 198.19.1.0/24']);
  t.deepEqual(withRelays({ ...relay, subnet: '198.19.1.7/24' }), ['dhcp.relays.0.subnet: 198.19.1.7/24 has host bits set; write 198.19.1.0/24']);
  t.deepEqual(withRelays({ ...relay, subnet: '198.18.0.0/16', range: ['198.18.5.1', '198.18.5.9'], router: '198.18.9.1' }), [
    'dhcp.relays.0.subnet: 198.18.0.0/16 overlaps the controller\'s own subnet 198.18.0.0/24 (controller.address/prefix), which needs no relay',
  ]);
  t.deepEqual(withRelays(relay, { ...relay, subnet: '198.19.0.0/16', range: ['198.19.5.1', '198.19.5.9'], router: '198.19.9.1' }), [
    'dhcp.relays.1.subnet: 198.19.0.0/16 overlaps dhcp.relays.0.subnet',
  ]);
  t.deepEqual(withRelays({ ...relay, range: ['198.19.1.100', '198.19.2.5'] }), ['dhcp.relays.0.range.1: 198.19.2.5 is not a host address of 198.19.1.0/24']);
  t.deepEqual(withRelays({ ...relay, range: ['198.19.1.0', '198.19.1.5'], router: '198.19.1.254' }), ['dhcp.relays.0.range.0: 198.19.1.0 is not a host address of 198.19.1.0/24']);
  t.deepEqual(withRelays({ ...relay, router: '198.18.0.1' }), ['dhcp.relays.0.router: 198.18.0.1 is outside 198.19.1.0/24']);
  t.deepEqual(withRelays({ ...relay, router: '198.19.1.150' }), ['dhcp.relays.0.range: contains the router 198.19.1.150']);
  t.deepEqual(withRelays({ subnet: '198.19.1.0/24', range: ['198.19.1.100', '198.19.1.199'] }), ['dhcp.relays.0.router: Invalid input: expected string, received undefined']);
  t.deepEqual(errorsOf({ ...base, dhcp: { mode: 'proxy', relays: [relay] } }), [
    'dhcp.relays: needs dhcp.mode full (mode proxy does not lease addresses; a proxyDHCP offer is not served through relays, docs/networks.md)',
  ]);
});

test('dhcp.reservations may lie in a relayed subnet, not elsewhere', (t) => {
  const relays = [{ subnet: '198.19.1.0/24', range: ['198.19.1.100', '198.19.1.199'], router: '198.19.1.1' }];
  t.deepEqual(errorsOf({ ...base, dhcp: { ...base.dhcp, relays, reservations: [{ mac: '52:54:00:bf:01:01', address: '198.19.1.20' }] } }), []);
  t.deepEqual(errorsOf({ ...base, dhcp: { ...base.dhcp, relays, reservations: [{ mac: '52:54:00:bf:01:01', address: '198.19.2.20' }] } }), [
    'dhcp.reservations.0.address: 198.19.2.20 is outside 198.18.0.1/24 and every dhcp.relays subnet',
  ]);
});
