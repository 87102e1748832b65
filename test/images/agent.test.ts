import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateSite } from '../../src/cluster/sites.js';
import { withApp, type TestApp } from '../helpers/app.js';
import { tarOf } from '../helpers/tar.js';

// The node agent (images/builtin/common/usr/lib/bootfleet/agent) run under the host's busybox
// against the real controller app on loopback: it fetches a site's content with the node secret,
// checks it, serves it with busybox httpd, and drops it when the manifest no longer has it.

const AGENT = resolve('images/builtin/common/usr/lib/bootfleet/agent');
const MAC = '52:54:00:00:00:aa';

async function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => r(port));
    });
  });
}

/** A folder of busybox applet links (the image's userland) to put first on PATH. */
async function busyboxBin(dir: string): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const applets = (await execa('busybox', ['--list'])).stdout.split('\n').filter(Boolean);
  for (const a of applets) await symlink('/bin/busybox', join(bin, a));
  return bin;
}

interface AgentWorld {
  app: TestApp;
  run: string;
  sites: string;
  port: number;
  version: string;
  agent: (manifest: string) => Promise<string>;
  /** The agent's long-running mode, started in the background; ended (by PID) at teardown. */
  start: () => void;
}

async function world(t: ExecutionContext, content: Record<string, string>): Promise<AgentWorld> {
  const app = await withApp();
  t.teardown(app.close);
  app.node(MAC);
  const dir = await mkdtemp(join(tmpdir(), 'bf-agent-'));
  const run = join(dir, 'run');
  const sites = join(dir, 'srv');
  await mkdir(run);
  await writeFile(join(run, 'node'), `controller=${app.base}\nmac=${MAC}\nsecret=${app.secretOf(MAC)}\n`);
  await writeFile(join(run, 'bootinfo'), 'image=tiny-web\nversion=0123456789ab-amd64\n');
  const port = await freePort();
  const stored = await app.deps.content.put('shop', await tarOf(content));
  await app.cluster.change((s) => {
    s.sites['shop'] = { ...validateSite({ name: 'shop', domains: ['shop.example'] }, s), port, content: stored };
    s.placement['shop'] = [MAC];
  });
  const bin = await busyboxBin(dir);
  t.teardown(async () => {
    for (const f of await readdir(join(run, 'agent')).catch(() => [])) {
      if (f.endsWith('.pid')) await execa('kill', [(await readFile(join(run, 'agent', f), 'utf8')).trim()], { reject: false });
    }
  });
  const env = { PATH: `${bin}:/usr/bin:/bin`, BOOTFLEET_RUN: run, BOOTFLEET_SITES: sites, BOOTFLEET_NGINX_SITES: join(dir, 'no-nginx'), BOOTFLEET_CONSOLE: '/dev/stdout' };
  return {
    app, run, sites, port, version: stored.version,
    start: () => {
      // Its own process group: the teardown ends the agent and the loops and servers it started.
      const p = execa('busybox', ['sh', AGENT, 'run'], { env, reject: false, detached: true });
      t.teardown(() => {
        if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL');
      });
    },
    agent: async (manifest) => {
      const file = join(dir, `manifest-${Date.now()}`);
      await writeFile(file, manifest);
      const r = await execa('busybox', ['sh', AGENT, 'once', file], {
        env: { PATH: `${bin}:/usr/bin:/bin`, BOOTFLEET_RUN: run, BOOTFLEET_SITES: sites, BOOTFLEET_NGINX_SITES: join(dir, 'no-nginx'), BOOTFLEET_CONSOLE: '/dev/stdout' },
        reject: false,
      });
      return r.stdout;
    },
  };
}

async function get(port: number, path = '/', attempts = 50): Promise<string | undefined> {
  for (let i = 0; i < attempts; i++) {
    const r = await execa('curl', ['-s', '--max-time', '2', `http://127.0.0.1:${port}${path}`], { reject: false });
    if (r.exitCode === 0) return r.stdout;
    await new Promise((res) => setTimeout(res, 100));
  }
  return undefined;
}

test('the agent fetches a placed site with the node secret, checks it and serves it; a site taken away is stopped and removed', async (t) => {
  const w = await world(t, { 'index.html': 'shop v1', 'health.txt': 'Database connection OK' });
  const manifest = (await w.app.call(`/api/nodes/${MAC}/manifest`, { asNode: MAC })).text;
  t.regex(manifest, new RegExp(`^site=shop ${w.port} ${w.version} [0-9a-f]{64} / shop\\.example$`, 'm'));
  const out = await w.agent(manifest);
  t.notRegex(out, /refused|could not/);
  t.is(await readFile(join(w.sites, 'shop', w.version, 'health.txt'), 'utf8'), 'Database connection OK');
  t.is(await get(w.port), 'shop v1', 'busybox httpd serves it on the site port');
  t.is((await readFile(join(w.run, 'agent', 'sites'), 'utf8')).trim(), `shop@${w.version}`, 'reported in the heartbeat');

  await w.app.cluster.change((s) => void delete s.placement['shop']);
  const none = (await w.app.call(`/api/nodes/${MAC}/manifest`, { asNode: MAC })).text;
  t.notRegex(none, /^site=/m);
  await w.agent(none);
  const gone = await execa('curl', ['-s', '--max-time', '2', `http://127.0.0.1:${w.port}/`], { reject: false });
  t.not(gone.exitCode, 0, 'its server is stopped');
  t.deepEqual(await readdir(join(w.sites, 'shop')), [], 'and its content removed');
});

test('content whose sha256 differs from the manifest is refused and not served', async (t) => {
  const w = await world(t, { 'index.html': 'real' });
  const manifest = (await w.app.call(`/api/nodes/${MAC}/manifest`, { asNode: MAC })).text.replace(/ ([0-9a-f]{64}) /, ` ${'0'.repeat(64)} `);
  const out = await w.agent(manifest);
  t.regex(out, /refused: sha256 [0-9a-f]{64}, the manifest says 0{64}/);
  t.deepEqual(await readdir(w.sites).then((d) => d.filter((x) => !x.startsWith('.'))), []);
});

test('a node without the secret cannot fetch another node\'s site content', async (t) => {
  const w = await world(t, { 'index.html': 'x' });
  t.is((await w.app.call(`/api/nodes/${MAC}/sites/shop/${w.version}`)).status, 403);
  w.app.node('52:54:00:00:00:bb', { ip: '127.0.0.2' });
  t.is((await w.app.call(`/api/nodes/52:54:00:00:00:bb/sites/shop/${w.version}`, { from: '127.0.0.2', asNode: '52:54:00:00:00:bb' })).status, 403, 'shop is not placed on bb');
});

test('an agent whose controller stops answering goes on with the next controller the last manifest named', async (t) => {
  const w = await world(t, { 'index.html': 'shop via the other controller' });
  const dead = `http://127.0.0.1:${await freePort()}`;
  // The node booted from `dead`; its last manifest (store.kind etcd) named both controllers.
  await writeFile(join(w.run, 'node'), `controller=${dead}\nmac=${MAC}\nsecret=${w.app.secretOf(MAC)}\n`);
  await mkdir(join(w.run, 'agent'), { recursive: true });
  await writeFile(join(w.run, 'agent', 'controllers'), `${dead}\n${w.app.base}\n`);
  w.start();
  t.is(await get(w.port, '/', 600), 'shop via the other controller', 'the site placed through the live controller is served');
  t.is((await readFile(join(w.run, 'agent', 'controller'), 'utf8')).trim(), w.app.base);
});
