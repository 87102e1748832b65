import { execa } from 'execa';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { BootfleetError, errorMessage } from '../errors.js';
import { createLogger } from '../log.js';
import { Lab } from '../lab/lab.js';
import { nodeScript, startLabController, type LabController } from '../lab/lab-controller.js';
import type { LabProcess } from '../lab/process.js';
import { stopLoad } from '../lab/load-stats.js';
import type { QemuNode } from '../lab/qemu.js';
import type { NetNamespace } from '../lab/netns.js';
import { packageRoot } from '../pkg.js';
import type { NodeView } from '../http/api.js';
import type { SiteView } from '../http/sites.js';
import { imageBuildCommand } from './image.js';
import { buildImage } from '../images/build.js';
import type { RolloutView } from '../http/rollout.js';

type Say = (s: string) => void;

export interface DemoOptions {
  /** Skip the rolling update at the end. */
  fast: boolean;
  /** End after the story instead of keeping the web UI open until Ctrl-C. */
  noWait: boolean;
}

/** Debian packages the demo needs, with the program that shows each is there. */
const NEEDED: Array<[pkg: string, file: string]> = [
  ['qemu-system-x86', '/usr/bin/qemu-system-x86_64'], ['ipxe-qemu', '/usr/lib/ipxe/qemu/pxe-virtio.rom'],
  ['haproxy', '/usr/sbin/haproxy'], ['busybox-static', '/bin/busybox'], ['squashfs-tools', '/usr/bin/mksquashfs'],
  ['iproute2', '/usr/sbin/ip'], ['curl', '/usr/bin/curl'], ['cpio', '/usr/bin/cpio'],
];

/**
 * `bootfleet demo`: the whole product on one machine with no hardware, as a story. It builds the
 * tiny-web image, starts a lab (a network namespace with a bridge, the controller with its managed
 * HAProxy, QEMU nodes netbooting into RAM), and plays the cluster story: the cluster boots and sites
 * are placed; a server fails; it comes back; a new server joins; a site is overloaded and gets
 * help; a new site; an obsolete site is removed; and a rolling update (unless --fast). The
 * placement is printed after each step. The web UI then stays open at a printed URL until Ctrl-C,
 * and everything is removed.
 */
export async function demoCommand(opts: DemoOptions, say: Say = (s) => process.stdout.write(`${s}\n`)): Promise<void> {
  if (process.getuid?.() !== 0) throw new BootfleetError('ERR_USAGE', 'the demo makes network namespaces, taps and QEMU nodes: run it as root (sudo npx bootfleet demo)');
  const started = Date.now();
  await installMissing(say);
  const lab = await Lab.create({ log: createLogger({ level: process.env['BOOTFLEET_LOG'] ?? 'warn' }) });
  let proxy: Server | undefined;
  const cleanup = async (): Promise<void> => {
    proxy?.close();
    await lab.destroy().catch((err: unknown) => say(`cleanup: ${errorMessage(err)}`));
    say('bootfleet demo: removed the lab (namespace, controller, balancer, nodes).');
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));
  try {
    const story = await setUp(lab, say);
    proxy = story.proxy;
    await play(story, opts, say);
    say(`\nThe story took ${((Date.now() - started) / 1000 / 60).toFixed(1)} minutes.`);
    if (!opts.noWait) {
      say(`\nWeb UI: ${story.url}  (log in with the admin token ${story.token})`);
      say('The cluster keeps running; press Ctrl-C to remove everything.');
      await new Promise(() => undefined);
    }
  } finally {
    await cleanup();
  }
}

interface Story {
  lab: Lab;
  ctl: LabController;
  client: NetNamespace;
  nodes: QemuNode[];
  store: string;
  url: string;
  token: string;
  proxy: Server;
  sitesDir: string;
}

async function installMissing(say: Say): Promise<void> {
  const missing: string[] = [];
  for (const [pkg, file] of NEEDED) if (!(await readFile(file).then(() => true, () => false))) missing.push(pkg);
  if (missing.length === 0) return;
  say(`bootfleet demo: installing the Debian packages it needs: ${missing.join(' ')}`);
  await execa('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { DEBIAN_FRONTEND: 'noninteractive' } }).catch(async () => {
    await execa('apt-get', ['update'], { stdio: 'inherit' });
    await execa('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { DEBIAN_FRONTEND: 'noninteractive' } });
  });
}

async function setUp(lab: Lab, say: Say): Promise<Story> {
  const store = join(lab.logDir, 'store');
  say('1. Building the tiny-web image (busybox root, a few MiB; Debian\'s kernel and busybox are fetched once into ~/.cache/bootfleet)…');
  await imageBuildCommand({ recipe: join(packageRoot(), 'images', 'tiny-web.yaml'), arch: 'amd64', store }, (s) => say(`   ${s.trimEnd()}`));
  const socket = join(lab.logDir, 'admin.sock');
  const ctl = await startLabController(lab, {
    config: {
      images: { store, default: 'tiny-web' },
      // Eight seconds without a heartbeat before a node counts as down: QEMU under emulation on a
      // small machine can miss a few seconds of heartbeats while it is busy serving.
      cluster: { heartbeatSeconds: 1, downAfterSeconds: 8, overload: { high: 0.8, low: 0.4, cooldownSeconds: 20 } },
      // Names for the lab's nodes (the lab numbers their MACs 52:54:00:bf:00:01, 02 …).
      nodes: [1, 2, 3, 4, 5, 6].map((n) => ({ mac: `52:54:00:bf:00:0${n}`, hostname: `web${n}` })),
      balancer: { listen: [`${lab.address}:80`] },
      admin: { listen: [`${lab.address}:8080`, `unix:${socket}`] },
    },
  });
  const { proxy, port } = await localProxy(socket);
  const token = (await readFile(join(ctl.stateDir, 'admin-token'), 'utf8')).trim();
  say(`   controller up in namespace ${lab.ns.name}: DHCP, TFTP and HTTP on ${lab.address} (br0), HAProxy on ${lab.address}:80`);
  const client = await lab.addHost('visitor', '198.18.0.250/24');
  return { lab, ctl, client, nodes: [], store, url: `http://127.0.0.1:${port}/`, token, proxy, sitesDir: join(lab.logDir, 'sites') };
}

async function play(s: Story, opts: DemoOptions, say: Say): Promise<void> {
  say('\n2. The cluster boots: three QEMU nodes netboot tiny-web into RAM (no disks), then five sites are added.');
  await Promise.all([1, 2, 3].map(() => boot(s)));
  for (const name of ['shop', 'blog', 'wiki', 'docs', 'news']) await addSite(s, name, 2);
  await settle(s, 'every site answers through the balancer', async () => (await Promise.all(['shop', 'blog', 'wiki', 'docs', 'news'].map((n) => served(s, n)))).every(Boolean));
  await show(s, say);

  const victim = s.nodes[0];
  say(`\n3. A server fails: ${victim?.mac} is switched off. HAProxy stops sending it requests within ~2 s; the controller moves its sites.`);
  await victim?.stop();
  await settle(s, 'its sites moved', async () => (await sites(s)).every((x) => !x.nodes.includes(victim?.mac ?? '') && x.nodes.length === x.replicas));
  await show(s, say);

  say(`\n4. It comes back: ${victim?.mac} netboots again and rejoins (sites move back only as far as the balance needs).`);
  await boot(s, victim?.mac);
  await show(s, say);

  say('\n5. A new server joins: a fourth node boots and takes a share.');
  const fourth = await boot(s);
  await settle(s, 'the new node serves a site', async () => (await sites(s)).some((x) => x.nodes.includes(fourth.mac ?? '')), 90_000).catch(() => undefined);
  await show(s, say);

  say('\n6. A site is overloaded: a flood of visitors on "news" (which can take 5 requests/s per node); the controller adds helpers.');
  await s.ctl.cli('site', 'scale', 'news', '--min-replicas', '1', '--max-replicas', '3', '--capacity', '5');
  const load = loadOn(s, 'news');
  await settle(s, 'news got help', async () => ((await sites(s)).find((x) => x.name === 'news')?.nodes.length ?? 0) >= 3, 120_000).catch(() => undefined);
  await show(s, say);
  await load.stop(10_000);
  say('   (the visitors stop; after a 20 s cooldown the helpers are taken away again)');

  say('\n7. A new website, "shop2", is added and placed; 8. the obsolete "blog" is removed from every node and the balancer.');
  await addSite(s, 'shop2', 2);
  await s.ctl.cli('site', 'rm', 'blog');
  await settle(s, 'shop2 answers and blog is gone', async () => (await served(s, 'shop2')) && (await get(s, 'blog')).status === '404');
  await show(s, say);

  if (opts.fast) {
    say('\n9. (--fast: the rolling update is skipped)');
    return;
  }
  await rollingUpdate(s, say);
}

/**
 * The rolling update: a new tiny-web build (the same recipe plus one overlay file, so a new
 * version), then `bootfleet rollout start` and its progress, node by node, while visitors keep
 * asking every site through the balancer; their failed requests are counted and printed.
 */
async function rollingUpdate(s: Story, say: Say): Promise<void> {
  say('\n9. A rolling update: a new tiny-web build; every node is drained, rebooted onto it and readmitted in turn, while visitors keep coming.');
  const image = await buildNextRelease(s);
  const names = (await sites(s)).map((x) => x.name);
  const visitors = loadOn(s, ...names);
  await s.ctl.cli('rollout', 'start', '--image', image, '--min-healthy-time', '5s', '--boot-deadline', '5m');
  let last = '';
  let view: RolloutView | undefined;
  await settle(s, 'the rollout ended', async () => {
    view = JSON.parse(await s.ctl.cli('rollout', 'status', '--json')) as RolloutView;
    const now = view.nodes.map((n) => `${n.hostname} ${n.phase}`).join(' | ');
    if (now !== last) say(`   ${now}`);
    last = now;
    return view.finishedAt !== undefined;
    // Every 2 s: each look runs the CLI, a Node process, on the machine that also emulates the nodes.
  }, 1_800_000, 2000);
  const stats = await stopLoad(visitors);
  say(`   rollout ${view?.status ?? '?'}: ${image} on ${view?.nodes.filter((n) => n.phase === 'done').length ?? 0} of ${view?.nodes.length ?? 0} nodes; visitors: ${stats.ok} answered, ${stats.failed} failed`);
  await show(s, say);
}

/** tiny-web again with a release file added: a new content version of the same image. */
async function buildNextRelease(s: Story): Promise<string> {
  const dir = join(s.lab.logDir, 'release-2');
  const root = packageRoot();
  await cp(join(root, 'overlays', 'tiny-web'), join(dir, 'overlays', 'tiny-web'), { recursive: true });
  await mkdir(join(dir, 'overlays', 'release-2', 'srv', 'www'), { recursive: true });
  await writeFile(join(dir, 'overlays', 'release-2', 'srv', 'www', 'release.txt'), 'release 2\n');
  const recipe = (await readFile(join(root, 'images', 'tiny-web.yaml'), 'utf8')).replace(/^overlays: \[tiny-web\]$/m, 'overlays: [tiny-web, release-2]');
  await mkdir(join(dir, 'recipe'), { recursive: true });
  await writeFile(join(dir, 'recipe', 'tiny-web.yaml'), recipe);
  const result = await buildImage({ recipe: join(dir, 'recipe', 'tiny-web.yaml'), arch: 'amd64', store: s.store, overlaysDir: join(dir, 'overlays') });
  const build = result.builds[0];
  if (!build) throw new BootfleetError('ERR_LAB', 'demo: the second tiny-web build produced nothing');
  return `tiny-web@${build.id}`;
}

async function boot(s: Story, mac?: string): Promise<QemuNode> {
  const node = await s.lab.addNode({ arch: 'x86_64', memoryMiB: 256, reboot: true, ...(mac ? { mac } : {}) });
  s.nodes.push(node);
  await settle(s, `${node.mac} is ready`, async () => (await nodes(s)).some((n) => n.mac === node.mac && n.state === 'ready'), 300_000);
  return node;
}

async function addSite(s: Story, name: string, replicas: number): Promise<void> {
  const dir = join(s.sitesDir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'index.html'), `<!doctype html><title>${name}</title><h1>${name}</h1><p>served by a bootfleet node from RAM</p>\n`);
  await writeFile(join(dir, 'healthz'), 'ok\n');
  await s.ctl.cli('site', 'add', name, '--domain', `${name}.example`, '--content', dir, '--min-replicas', String(replicas), '--health-path', '/healthz');
}

function loadOn(s: Story, ...names: string[]): LabProcess {
  const [node = process.execPath, ...argv] = nodeScript('lab/load-client');
  return s.lab.spawn(node, [...argv, JSON.stringify({ url: `http://${s.lab.address}/`, hosts: names.map((n) => `${n}.example`), concurrency: 3, pauseMs: 50 })], { name: 'visitors', netns: s.client, cwd: packageRoot() });
}

async function nodes(s: Story): Promise<NodeView[]> {
  return (JSON.parse(await s.ctl.cli('node', 'list', '--json')) as { nodes: NodeView[] }).nodes;
}

async function sites(s: Story): Promise<SiteView[]> {
  return (JSON.parse(await s.ctl.cli('site', 'list', '--json')) as { sites: SiteView[] }).sites;
}

async function get(s: Story, name: string): Promise<{ status: string; body: string }> {
  const r = await s.client.exec('curl', ['-s', '--max-time', '5', '-H', `Host: ${name}.example`, '-w', '\n%{http_code}', `http://${s.lab.address}/`]).catch(() => ({ stdout: '\n000' }));
  const lines = r.stdout.trimEnd().split('\n');
  const status = lines.pop() ?? '000';
  return { status, body: lines.join('\n') };
}

async function served(s: Story, name: string): Promise<boolean> {
  const r = await get(s, name);
  return r.status === '200' && r.body.includes(`<h1>${name}</h1>`);
}

async function settle(s: Story, what: string, check: () => Promise<boolean>, timeoutMs = 180_000, everyMs = 500): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new BootfleetError('ERR_LAB', `demo: timed out waiting until ${what} (logs: ${s.lab.logDir})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The placement: which node serves which site, and each node's state. */
async function show(s: Story, say: Say): Promise<void> {
  const [ns, ss] = await Promise.all([nodes(s), sites(s)]);
  const name = (mac: string): string => ns.find((n) => n.mac === mac)?.hostname ?? mac;
  const width = Math.max(4, ...ss.map((x) => x.name.length));
  say(`   ${'site'.padEnd(width)}  served by`);
  for (const site of ss) say(`   ${site.name.padEnd(width)}  ${site.nodes.map(name).join(', ') || '-'}${site.retiring.length ? ` (handing over from ${site.retiring.map(name).join(', ')})` : ''}`);
  say(`   nodes: ${ns.map((n) => `${n.hostname ?? n.mac} ${n.state}`).join(' | ')}`);
}

/** 127.0.0.1:<port> → the controller's admin unix socket, so a browser on this machine reaches the UI. */
async function localProxy(socket: string): Promise<{ proxy: Server; port: number }> {
  for (let port = 8080; port < 8100; port++) {
    const proxy = createServer((c) => {
      const u = connect(socket);
      c.pipe(u).pipe(c);
      const close = (): void => {
        c.destroy();
        u.destroy();
      };
      c.on('error', close);
      u.on('error', close);
    });
    const ok = await new Promise<boolean>((resolve) => {
      proxy.once('error', () => resolve(false));
      proxy.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return { proxy, port };
  }
  throw new BootfleetError('ERR_BIND_FAILED', 'demo: no free port between 8080 and 8099 on 127.0.0.1 for the web UI');
}
