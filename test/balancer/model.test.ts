import test from 'ava';
import { renderBalancer, type BalancerModel } from '../../src/balancer/model.js';
import { modelProblems, validateModel } from '../../src/balancer/validate.js';
import { cookieValue, serverName } from '../../src/balancer/names.js';
import { checkTiming, detectionBoundsMs, HAPROXY_TIMEOUTS, quote } from '../../src/balancer/haproxy/render.js';
import { ConfigError } from '../../src/errors.js';
import { model, server, site } from './helpers.js';

function good(): BalancerModel {
  return model('/tmp/bf-state', 8080, [
    site('shop', ['shop.example', 'www.shop.example'], [server(1, 8001), server(2, 8001)], { affinity: { cookie: 'BFSID' }, check: { path: '/health', status: 200, text: 'Database connection OK' } }),
    site('blog', ['blog.example'], [server(2, 8002)]),
  ]);
}

test('a valid model has no problems', (t) => {
  t.deepEqual(modelProblems(good()), []);
});

test('a domain on two sites is refused, naming both', (t) => {
  const m = good();
  m.sites[1]!.domains.push('www.shop.example');
  const err = t.throws(() => validateModel(m), { instanceOf: ConfigError });
  t.is(err?.code, 'ERR_CONFIG_INVALID');
  t.regex(err?.message ?? '', /sites\[1\]\.domains\[1\]: "www\.shop\.example" is already a domain of site "shop"/);
});

test('invalid domains, ids, paths, texts and cookies are refused with the field to fix', (t) => {
  const m = good();
  m.sites[0]!.domains[0] = 'Shop.Example';
  m.sites[0]!.domains[1] = '*.shop.example';
  m.sites[1]!.id = 'Blog_1';
  m.sites[1]!.check = { path: 'health', status: 99, text: 'line\nbreak' };
  m.sites[0]!.affinity = { cookie: 'my-cookie' };
  const problems = modelProblems(m);
  t.true(problems.some((p) => p.startsWith('sites[0].domains[0]: "Shop.Example" is not a lower-case host name')));
  t.true(problems.some((p) => p.startsWith('sites[0].domains[1]: "*.shop.example"')));
  t.true(problems.some((p) => p.startsWith('sites[1].id:')));
  t.true(problems.some((p) => p.startsWith('sites[1].check.path:')));
  t.true(problems.some((p) => p.startsWith('sites[1].check.status:')));
  t.true(problems.some((p) => p.startsWith('sites[1].check.text:')));
  t.true(problems.some((p) => p.startsWith('sites[0].affinity.cookie:')));
});

test('a node listed twice, at two addresses, or colliding server names is refused', (t) => {
  const m = good();
  m.sites[0]!.servers.push(server(1, 8001));
  m.sites[1]!.servers[0]!.address = '127.0.0.2';
  m.sites[1]!.servers.push({ node: '020000000001', address: '127.0.0.1', port: 1, admin: 'ready' });
  const problems = modelProblems(m).join('\n');
  t.regex(problems, /sites\[0\]\.servers\[2\]\.node: node 02:00:00:00:00:01 is listed twice/);
  t.regex(problems, /sites\[1\]\.servers\[0\]\.address: node 02:00:00:00:00:02 is 127\.0\.0\.1 in another site/);
  t.regex(problems, /sites\[1\]\.servers\[1\]\.node: "020000000001" and "02:00:00:00:00:01" both become server name n_020000000001/);
});

test('stateDir must be absolute, plain and short enough for a unix socket', (t) => {
  const m = good();
  m.paths.stateDir = 'relative/dir';
  t.true(modelProblems(m).some((p) => p.startsWith('paths.stateDir:')));
  m.paths.stateDir = `/tmp/${'x'.repeat(100)}`;
  t.true(modelProblems(m).some((p) => p.includes('too long for a unix socket')));
  m.paths.stateDir = '/tmp/with space';
  t.true(modelProblems(m).some((p) => p.startsWith('paths.stateDir:')));
});

test('a site listen address may not reuse a frontend', (t) => {
  const m = good();
  m.sites[0]!.listen = { address: '127.0.0.1', port: 8080 };
  t.true(modelProblems(m).some((p) => p.startsWith('sites[0].listen: 127.0.0.1:8080 is already used by listen[0]')));
});

test('renderBalancer refuses an invalid model for every kind', (t) => {
  const m = good();
  m.sites[0]!.domains = [];
  for (const kind of ['haproxy', 'nginx', 'apache', 'pen', 'keepalived'] as const) t.throws(() => renderBalancer(kind, m), { instanceOf: ConfigError }, kind);
});

test('rendering is deterministic and independent of site and server order', (t) => {
  const a = good();
  const b = good();
  b.sites.reverse();
  for (const s of b.sites) s.servers.reverse();
  for (const kind of ['haproxy', 'nginx', 'apache'] as const) {
    t.deepEqual(renderBalancer(kind, a), renderBalancer(kind, b), kind);
  }
});

test('names: stable server names and cookie values that do not reveal the MAC', (t) => {
  t.is(serverName('02:00:00:00:00:0A'), 'n_02000000000a');
  t.is(cookieValue('02:00:00:00:00:0a'), cookieValue('02:00:00:00:00:0a'));
  t.notRegex(cookieValue('02:00:00:00:00:0a'), /02/);
  t.is(cookieValue('x').length, 12);
});

test('haproxy quoting keeps every printable character of a check text', (t) => {
  t.is(quote(`it's`), `'it'"'"'s'`);
  t.is(quote('a b #c $d \\e'), `'a b #c $d \\e'`);
});

test('default check timing detects a silent node in under 2 s and a refused port faster (arithmetic)', (t) => {
  const bounds = detectionBoundsMs(checkTiming(), HAPROXY_TIMEOUTS.connect);
  t.true(bounds.silent < 2000, `silent ${bounds.silent} ms`);
  t.true(bounds.refused < bounds.silent);
  // HAProxy's defaults (inter 2s, fall 3, no timeout check: a check may take all of inter).
  const defaults = detectionBoundsMs({ inter: 2000, fastinter: 2000, downinter: 2000, fall: 3, rise: 2 }, 2000);
  t.is(defaults.refused, 6000);
  t.true(checkTiming().rise > 1 && checkTiming().fall > 1, 'one lost packet never flips a server');
});
