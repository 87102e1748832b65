import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderBalancer, type BalancerKind, type BalancerModel } from '../../src/balancer/model.js';
import { penArgv } from '../../src/balancer/pen.js';
import { isAlive, waitGone } from '../../src/balancer/haproxy/pids.js';
import { startBackend, type Backend } from './backend.js';
import { eventually, freePort, get, model, requireTool, server, site, tempDir } from './helpers.js';

/**
 * Each renderer's output is accepted by the tool's own checker, and the checker is shown to
 * reject a broken file (so the acceptance means something). nginx, Apache and pen are also
 * started on loopback in front of real backends.
 */

const CHECK_TEXT = `it's "OK" #1 \\ $HOME %d {x} /y/`;

async function fixture(t: ExecutionContext, kind: BalancerKind): Promise<{ dir: string; m: BalancerModel; b1: Backend; b2: Backend; port: number }> {
  const dir = await tempDir(t);
  const b1 = await startBackend({ name: 'n1', healthText: `status: ${CHECK_TEXT}` });
  const b2 = await startBackend({ name: 'n2', healthText: `status: ${CHECK_TEXT}` });
  t.teardown(() => Promise.all([b1.close(), b2.close()]));
  const port = await freePort();
  const m = model(dir, port, [
    site('shop', ['shop.example', 'www.shop.example'], [server(1, b1.port), server(2, b2.port)], {
      check: { path: '/health', status: 200, text: CHECK_TEXT },
      affinity: { cookie: 'BFSID' },
      listen: { address: '127.0.0.1', port: await freePort() },
    }),
    site('blog', ['blog.example'], [server(1, b1.port), server(2, b2.port, 'drain'), server(3, 1, 'maint')], { listen: { address: '127.0.0.1', port: await freePort() } }),
    site('empty', ['empty.example'], [], { listen: { address: '127.0.0.1', port: await freePort() } }),
  ]);
  for (const f of renderBalancer(kind, m)) await writeFile(join(dir, f.path), f.text, { mode: f.mode ?? 0o644 });
  return { dir, m, b1, b2, port };
}

/** A daemon started for one test and killed by PID at its end. */
function daemon(t: ExecutionContext, file: string, args: string[]): number {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const pid = child.pid ?? 0;
  t.teardown(async () => {
    if (!t.passed && err) t.log(`${file} stderr: ${err}`);
    process.kill(pid, 'SIGTERM');
    if (!(await waitGone([pid], 5000))) process.kill(pid, 'SIGKILL');
  });
  return pid;
}

test('haproxy -c accepts the rendered haproxy.cfg and sites.map, and refuses a broken one', async (t) => {
  await requireTool('haproxy', 'haproxy');
  const { dir } = await fixture(t, 'haproxy');
  const cfg = join(dir, 'haproxy.cfg');
  const ok = await execa('haproxy', ['-c', '-f', cfg], { reject: false, all: true });
  t.is(ok.exitCode, 0, ok.all);
  const map = await readFile(join(dir, 'sites.map'), 'utf8');
  t.regex(map, /^shop\.example be_site_shop$/m);
  t.regex(map, /^www\.shop\.example be_site_shop$/m);
  await appendFile(cfg, '    no-such-keyword 1\n');
  t.not((await execa('haproxy', ['-c', '-f', cfg], { reject: false })).exitCode, 0);
});

test('nginx -t accepts the rendered nginx.conf, and nginx routes by Host with affinity', async (t) => {
  await requireTool('nginx', 'nginx-light');
  const { dir, port } = await fixture(t, 'nginx');
  const conf = join(dir, 'nginx.conf');
  const ok = await execa('nginx', ['-t', '-c', conf, '-p', dir], { reject: false, all: true });
  t.is(ok.exitCode, 0, ok.all);
  daemon(t, 'nginx', ['-c', conf, '-p', dir, '-g', 'daemon off;']);
  const first = await eventually('nginx serving', () => get(port, 'www.shop.example').catch(() => undefined));
  t.regex(first.body.trim(), /^n[12] www\.shop\.example \/$/);
  t.regex(first.cookie ?? '', /^BFSID=[0-9a-f]{32}$/);
  // Affinity: with the cookie every request lands on the same node.
  const nodes = new Set<string | undefined>();
  for (let i = 0; i < 6; i++) nodes.add((await get(port, 'shop.example', '/', { cookie: first.cookie ?? '' })).node);
  t.deepEqual([...nodes], [first.node]);
  // Drain and maint are `down` in nginx: blog only reaches n1.
  for (let i = 0; i < 4; i++) t.is((await get(port, 'blog.example')).node, 'n1');
  t.is((await get(port, 'nobody.example')).status, 404);
  t.is((await get(port, 'empty.example')).status, 503);
  await appendFile(conf, 'bogus;\n');
  t.not((await execa('nginx', ['-t', '-c', conf, '-p', dir], { reject: false })).exitCode, 0);
});

test('apache2 -t accepts the rendered config, and Apache routes by Host and drops a member failing the text check', async (t) => {
  await requireTool('apache2', 'apache2');
  const { dir, port, b2 } = await fixture(t, 'apache');
  const conf = join(dir, 'apache2.conf');
  const ok = await execa('apache2', ['-t', '-f', conf], { reject: false, all: true });
  t.is(ok.exitCode, 0, ok.all);
  b2.health.text = 'status: Database down';
  daemon(t, 'apache2', ['-f', conf, '-DFOREGROUND']);
  await eventually('apache serving', () => get(port, 'shop.example').catch(() => undefined));
  // hcheck (hcinterval 1 s, hcfails 2) takes n2 out; afterwards every request goes to n1.
  await eventually('n2 out of the shop balancer', async () => {
    const seen = new Set<string | undefined>();
    for (let i = 0; i < 6; i++) seen.add((await get(port, 'shop.example')).node);
    return seen.size === 1 && seen.has('n1');
  }, 20_000, 500);
  t.true(b2.checks.length > 0, 'Apache checked n2');
  // The check carries the member address as Host, not the site's domain (docs/balancer.md).
  t.regex(b2.checks[0] ?? '', /^127\.0\.0\.1:\d+$/);
  t.is((await get(port, 'nobody.example')).status, 404);
  t.is((await get(port, 'empty.example')).status, 503);
  const manager = await get(port, 'shop.example', '/balancer-manager');
  t.is(manager.status, 200);
  t.regex(manager.body, /balancer:\/\/bf_shop/);
  await appendFile(conf, 'NoSuchDirective on\n');
  t.not((await execa('apache2', ['-t', '-f', conf], { reject: false })).exitCode, 0);
});

test('pen started with the rendered argv balances one site on its own port', async (t) => {
  await requireTool('pen', 'pen');
  const { dir, m, b1, b2 } = await fixture(t, 'pen');
  const shop = m.sites.find((s) => s.id === 'shop');
  const argv = (await readFile(join(dir, 'pen-blog.argv'), 'utf8')).trimEnd().split('\n');
  t.deepEqual(argv, penArgv(m, m.sites.find((s) => s.id === 'blog')!));
  t.regex(await readFile(join(dir, 'pen.sh'), 'utf8'), /# site empty: no server in rotation, not started/);
  // blog: n2 drains, so pen gets only n1; shop (no -r: client-address stickiness) gets both.
  const shopArgv = (await readFile(join(dir, 'pen-shop.argv'), 'utf8')).trimEnd().split('\n');
  t.true(shopArgv.includes(`127.0.0.1:${b1.port}`) && shopArgv.includes(`127.0.0.1:${b2.port}`));
  const [file, ...args] = shopArgv;
  const pid = daemon(t, file ?? 'pen', args);
  const port = shop?.listen?.port ?? 0;
  const r = await eventually('pen serving', () => get(port, 'shop.example').catch(() => undefined));
  t.true(isAlive(pid));
  t.regex(r.body.trim(), /^n[12] shop\.example \/$/);
  const servers = await execa('penctl', [join(dir, 'pen-shop.ctl'), 'servers']);
  t.regex(servers.stdout, new RegExp(`port ${b1.port}`));
});

test('keepalived --config-test accepts the rendered keepalived.conf and refuses a broken one', async (t) => {
  await requireTool('keepalived', 'keepalived');
  const { dir } = await fixture(t, 'keepalived');
  const conf = join(dir, 'keepalived.conf');
  const text = await readFile(conf, 'utf8');
  t.regex(text, /virtualhost shop\.example/);
  t.regex(text, /regex status\\x3a|regex it\\x27s/);
  t.notRegex(text, /real_server 127\.0\.0\.1 1 /, 'the maint server is left out');
  t.regex(text, /# site empty: no server outside maintenance/);
  const ok = await execa('keepalived', ['--config-test', '-f', conf], { reject: false, all: true });
  t.is(ok.exitCode, 0, ok.all);
  await writeFile(conf, text.replace('lvs_sched wlc', 'lvs_sched_typo wlc'));
  t.not((await execa('keepalived', ['--config-test', '-f', conf], { reject: false })).exitCode, 0);
});

test('pen and keepalived refuse a site without its own listen address', async (t) => {
  const m = model('/tmp/bf-x', 8080, [site('a', ['a.example'], [server(1, 8001)])]);
  t.throws(() => renderBalancer('pen', m), { message: /sites\["a"\]\.listen: pen cannot route by Host/ });
  t.throws(() => renderBalancer('keepalived', m), { message: /sites\["a"\]\.listen: IPVS cannot route by Host/ });
  t.notThrows(() => renderBalancer('haproxy', m));
});
