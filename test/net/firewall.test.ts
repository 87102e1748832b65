import test from 'ava';
import { firewallScript } from '../../src/net/firewall.js';

// The nftables table that keeps the outside network away from the cluster side (pure text).

const plan = { cluster: { interface: 'br0', address: '198.18.0.1', prefix: 24 }, outside: { interface: 'eth1' } };

test('without NAT: the cluster address is unreachable from outside and nothing is forwarded either way but replies', (t) => {
  const s = firewallScript({ ...plan, nat: false });
  t.regex(s, /^table inet bootfleet\ndelete table inet bootfleet\n/, 'replaced atomically');
  t.regex(s, /iifname "eth1" ip daddr 198\.18\.0\.1 drop/);
  t.regex(s, /iifname "eth1" oifname "br0" ct state established,related accept\n\s+iifname "eth1" oifname "br0" drop/);
  t.regex(s, /iifname "br0" oifname "eth1" ip saddr 198\.18\.0\.0\/24 drop/);
  t.notRegex(s, /masquerade/);
});

test('with NAT: the cluster subnet goes out masqueraded, and still nothing comes in unasked', (t) => {
  const s = firewallScript({ ...plan, nat: true });
  t.regex(s, /iifname "br0" oifname "eth1" ip saddr 198\.18\.0\.0\/24 accept/);
  t.regex(s, /type nat hook postrouting priority srcnat/);
  t.regex(s, /iifname "br0" oifname "eth1" ip saddr 198\.18\.0\.0\/24 masquerade/);
  t.regex(s, /iifname "eth1" oifname "br0" drop/);
});

test('subnets behind relays (dhcp.relays) are cluster side too: held back without NAT, masqueraded with it', (t) => {
  const routed = { ...plan, cluster: { ...plan.cluster, routed: ['198.19.1.0/24', '198.19.2.0/24'] } };
  t.regex(firewallScript({ ...routed, nat: false }), /iifname "br0" oifname "eth1" ip saddr \{ 198\.18\.0\.0\/24, 198\.19\.1\.0\/24, 198\.19\.2\.0\/24 \} drop/);
  t.regex(firewallScript({ ...routed, nat: true }), /iifname "br0" oifname "eth1" ip saddr \{ 198\.18\.0\.0\/24, 198\.19\.1\.0\/24, 198\.19\.2\.0\/24 \} masquerade/);
});
