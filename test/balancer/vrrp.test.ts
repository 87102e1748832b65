import test from 'ava';
import { parseConfig } from '../../src/config.js';
import { renderVrrp, VRRP_FILES, type VrrpOptions } from '../../src/balancer/keepalived/vrrp.js';
import { balancerListen } from '../../src/balancer/keepalived/listen.js';
import { renderHaproxy } from '../../src/balancer/haproxy/render.js';

const opts: VrrpOptions = {
  address: '198.18.0.100/24', interface: 'eth0', routerId: 51, priority: 100, dir: '/var/lib/bootfleet/balancer/vrrp/',
  haproxy: { binary: 'haproxy', pidFile: '/var/lib/bootfleet/balancer/haproxy.pid' },
  scriptUser: 'root', name: 'ctl-a',
};

function conf(o: VrrpOptions = opts): string {
  return renderVrrp(o).find((f) => f.path === VRRP_FILES.config)?.text ?? '';
}

test('both controllers render one VRRP instance in BACKUP without preemption, adverts every second', (t) => {
  const text = conf();
  t.regex(text, /vrrp_instance bootfleet \{[^}]*state BACKUP\n {4}nopreempt\n/);
  t.regex(text, /^ {4}interface eth0$/m);
  t.regex(text, /^ {4}virtual_router_id 51$/m);
  t.regex(text, /^ {4}priority 100$/m);
  t.regex(text, /^ {4}advert_int 1$/m);
  t.regex(text, /virtual_ipaddress \{\n {8}198\.18\.0\.100\/24 dev eth0\n {4}\}/);
  t.regex(text, /^ {4}router_id ctl-a$/m);
  t.regex(text, /^ {4}script_user root$/m);
  // The peer renders the same instance: only its name and priority may differ.
  const peer = conf({ ...opts, name: 'ctl-b', priority: 90 });
  t.is(peer.replace('ctl-b', 'ctl-a').replace('priority 90', 'priority 100'), text);
});

test('the VIP follows the local HAProxy: a file the controller sets to 1 when its HAProxy exits', (t) => {
  const text = conf();
  t.regex(text, /track_file haproxy_down \{\n {4}file "\/var\/lib\/bootfleet\/balancer\/vrrp\/haproxy-down"\n {4}weight 0\n\}/);
  t.regex(text, /track_file \{\n {8}haproxy_down\n {4}\}/);
});

test('the VIP follows the local HAProxy: a tracked check script reading its pid file', (t) => {
  const files = renderVrrp(opts);
  const text = conf();
  t.regex(text, /vrrp_script haproxy_alive \{\n {4}script "\/var\/lib\/bootfleet\/balancer\/vrrp\/haproxy-alive"\n {4}interval 1\n/);
  t.regex(text, /track_script \{\n {8}haproxy_alive\n {4}\}/);
  const check = files.find((f) => f.path === VRRP_FILES.check);
  t.is(check?.mode, 0o755);
  t.true(check?.text.startsWith('#!/bin/sh\n'));
  t.true(check?.text.includes("$(cat '/var/lib/bootfleet/balancer/haproxy.pid' 2>/dev/null)"));
  t.true(check?.text.includes(`= 'haproxy' ]`));
});

test('the check compares the process name as /proc shows it (15 characters) and quotes paths', (t) => {
  const check = renderVrrp({ ...opts, haproxy: { binary: '/opt/bin/haproxy-with-a-long-name', pidFile: "/srv/it's/haproxy.pid" } }).find((f) => f.path === VRRP_FILES.check)?.text ?? '';
  t.true(check.includes(`= 'haproxy-with-a-' ]`));
  t.true(check.includes(`'/srv/it'"'"'s/haproxy.pid'`));
});

test('frontends: default port 80 on the VIP, floating; HAProxy binds it transparent', (t) => {
  t.deepEqual(balancerListen({ controllerAddress: '198.18.0.1' }), [{ address: '198.18.0.1', port: 80 }]);
  t.deepEqual(balancerListen({ controllerAddress: '198.18.0.1', vipAddress: '198.18.0.100/24' }), [{ address: '198.18.0.100', port: 80, floating: true }]);
  const listen = balancerListen({ controllerAddress: '198.18.0.1', vipAddress: '198.18.0.100/24', listen: ['198.18.0.100:8080', '198.18.0.1:80'] });
  t.deepEqual(listen, [{ address: '198.18.0.100', port: 8080, floating: true }, { address: '198.18.0.1', port: 80 }]);
  const cfg = renderHaproxy({ listen, sites: [], generation: 1, paths: { stateDir: '/tmp/x' } })[0]?.text ?? '';
  t.regex(cfg, /^ {4}bind 198\.18\.0\.100:8080 transparent$/m);
  t.regex(cfg, /^ {4}bind 198\.18\.0\.1:80$/m);
});

const base = {
  controller: { interface: 'br0', address: '198.18.0.1' },
  dhcp: { mode: 'off' },
};
function errorsOf(balancer: unknown): string[] {
  const r = parseConfig({ ...base, balancer }, '/x', '/y');
  return r.ok ? [] : r.errors;
}

test('config: balancer.vip with defaults, and errors that name the field', (t) => {
  const r = parseConfig({ ...base, balancer: { vip: { address: '198.18.0.100/24', interface: 'eth0', routerId: 51 } } }, '/x', '/y');
  if (!r.ok) return t.fail(r.errors.join('\n'));
  t.deepEqual(r.config.balancer?.vip, { address: '198.18.0.100/24', interface: 'eth0', routerId: 51, priority: 100, binary: 'keepalived' });
  t.deepEqual(errorsOf({ vip: { address: '198.18.0.100', interface: 'eth0', routerId: 51 } }), ['balancer.vip.address: must be an IPv4 address with its prefix length, like 198.18.0.100/24']);
  t.regex(errorsOf({ vip: { address: '198.18.0.100/24', interface: 'eth0', routerId: 256 } })[0] ?? '', /^balancer\.vip\.routerId: /);
  t.regex(errorsOf({ vip: { address: '198.18.0.100/24', interface: 'eth0', routerId: 5, priority: 255 } })[0] ?? '', /^balancer\.vip\.priority: /);
  t.deepEqual(errorsOf({ vip: { address: '198.18.0.100/24', interface: 'eth0', routerId: 5, password: 'x' } }), ['balancer.vip.password: unknown key (check the spelling)']);
  t.deepEqual(errorsOf({ mode: 'render-only', vip: { address: '198.18.0.100/24', interface: 'eth0', routerId: 5 } }), ['balancer.vip: needs balancer.mode managed (keepalived moves the address between controllers that run HAProxy)']);
  t.deepEqual(errorsOf({ vip: { address: '198.18.0.1/24', interface: 'eth0', routerId: 5 } }), ['balancer.vip.address: 198.18.0.1 is controller.address; the virtual address must be one no host owns']);
  t.deepEqual(errorsOf({ listen: ['198.18.0.1:80'], vip: { address: '198.18.0.100/24', interface: 'eth0', routerId: 5 } }), [
    'balancer.listen: none of 198.18.0.1:80 is on balancer.vip.address 198.18.0.100; clients reach the pair there (omit listen for 198.18.0.100:80)',
  ]);
});
