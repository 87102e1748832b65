import type { ExecutionContext } from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeScript, startLabController, type LabController, type LabControllerOptions } from '../../src/lab/lab-controller.js';
import type { Lab } from '../../src/lab/lab.js';
import type { NetNamespace } from '../../src/lab/netns.js';
import type { QemuNode } from '../../src/lab/qemu.js';
import type { LabProcess } from '../../src/lab/process.js';
import type { NodeView } from '../../src/http/api.js';
import type { SiteView } from '../../src/http/sites.js';
import { packageRoot } from '../../src/pkg.js';
import { buildRecipe } from './images.js';
import { withLab } from './lab.js';

/** The lab's web cluster: a controller with a managed HAProxy on 198.18.0.1:80, tiny-web nodes, a client host. */
export interface ClusterLab {
  lab: Lab;
  /** The controller now (replaced by restart()). */
  ctl: LabController;
  /** SIGKILLs the controller (no clean-up of any kind) and starts a new one on the same config and state dir. */
  restart: () => Promise<void>;
  /** From now on the CLI talks to `ctl` and requests go through the balancer at `balancer` (a second controller, store.kind etcd). */
  use: (ctl: LabController, balancer: string) => void;
  client: NetNamespace;
  nodes: QemuNode[];
  macs: string[];
  /** Boots one more tiny-web node (or one with a given MAC again); resolves once it is `ready`. */
  boot: (mac?: string) => Promise<QemuNode>;
  /** `node list --json` (the real CLI). */
  nodeList: () => Promise<NodeView[]>;
  /** `site list --json`. */
  sites: () => Promise<SiteView[]>;
  /** A site with content `site <name>` and a health page, added with the real CLI. */
  addSite: (name: string, opts?: { minReplicas?: number; maxReplicas?: number; capacity?: number; text?: string }) => Promise<void>;
  /** New content for a site (`site deploy`). */
  deploy: (name: string, text: string) => Promise<void>;
  /** One request through the balancer with this Host; the body, or undefined when it failed. */
  get: (host: string, path?: string) => Promise<{ status: string; body: string }>;
  /** A client loop through the balancer (src/lab/load-client.ts) in the client namespace. */
  load: (args: { hosts: string[]; expect?: Record<string, string>; concurrency?: number; pauseMs?: number }) => LabProcess;
  waitUntil: (what: string, check: () => Promise<boolean>, timeoutMs?: number) => Promise<void>;
}

export const BALANCER = '198.18.0.1';

export interface ClusterLabOptions {
  nodes: number;
  config?: Record<string, unknown>;
  controller?: LabControllerOptions;
  /** An image store already holding what `image` names (default: tiny-web built into the lab). */
  store?: string;
  /** The image nodes boot (images.default; default `tiny-web`). */
  image?: string;
  /** Nodes really reboot when asked (QEMU without -no-reboot): for rollouts. */
  reboot?: boolean;
}

export async function clusterLab(t: ExecutionContext, opts: ClusterLabOptions = { nodes: 3 }): Promise<ClusterLab> {
  return clusterLabOn(await withLab(t), opts);
}

/** The same on a lab the caller owns (benchmarks destroy it themselves). */
export async function clusterLabOn(lab: Lab, opts: ClusterLabOptions = { nodes: 3 }): Promise<ClusterLab> {
  const store = opts.store ?? join(lab.logDir, 'store');
  if (!opts.store) await buildRecipe('tiny-web', 'amd64', store);
  const controllerOptions: LabControllerOptions = {
    ...opts.controller,
    config: {
      images: { store, default: opts.image ?? 'tiny-web' },
      // Down after 10 s without a heartbeat: with other lab tests' emulated nodes on the same two
      // cores, a TCG guest misses a few seconds of heartbeats now and then, and a live node taken
      // for dead moves its sites. HAProxy's own checks take a dead node out within 2 s anyway.
      cluster: { heartbeatSeconds: 1, downAfterSeconds: 10, overload: { high: 0.8, low: 0.4, cooldownSeconds: 20 } },
      balancer: { listen: [`${BALANCER}:80`] },
      ...opts.config,
    },
  };
  let ctl = await startLabController(lab, controllerOptions);
  let balancer = BALANCER;
  const client = await lab.addHost('client', '198.18.0.250/24');
  const cli = async <T>(...args: string[]): Promise<T> => JSON.parse(await ctl.cli(...args)) as T;
  const nodeList = async (): Promise<NodeView[]> => (await cli<{ nodes: NodeView[] }>('node', 'list', '--json')).nodes;
  const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs = 240_000): Promise<void> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what} (lab logs: ${lab.logDir})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const nodes: QemuNode[] = [];
  const macs: string[] = [];
  const boot = async (mac?: string): Promise<QemuNode> => {
    const node = await lab.addNode({ arch: 'x86_64', ...(mac ? { mac } : {}), memoryMiB: 256, ...(opts.reboot ? { reboot: true } : {}) });
    const id = node.mac ?? '';
    if (!macs.includes(id)) macs.push(id);
    nodes.push(node);
    await waitUntil(`${id} is ready`, async () => (await nodeList()).some((n) => n.mac === id && n.state === 'ready'));
    return node;
  };
  const content = async (name: string, text: string): Promise<string> => {
    const dir = join(lab.logDir, 'sites', `${name}-${Date.now()}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'index.html'), `${text}\n`);
    await writeFile(join(dir, 'healthz'), 'ok\n');
    return dir;
  };
  const cl: ClusterLab = {
    lab, ctl, client, nodes, macs, boot, nodeList, waitUntil,
    use: (other, address) => {
      ctl = other;
      cl.ctl = other;
      balancer = address;
    },
    restart: async () => {
      process.kill(ctl.process.pid, 'SIGKILL');
      await ctl.process.exited;
      ctl = await startLabController(lab, controllerOptions);
      cl.ctl = ctl;
    },
    sites: async () => (await cli<{ sites: SiteView[] }>('site', 'list', '--json')).sites,
    addSite: async (name, o = {}) => {
      const args = ['site', 'add', name, '--domain', `${name}.example`, '--content', await content(name, o.text ?? `site ${name}`), '--health-path', '/healthz'];
      if (o.minReplicas !== undefined) args.push('--min-replicas', String(o.minReplicas));
      if (o.maxReplicas !== undefined) args.push('--max-replicas', String(o.maxReplicas));
      if (o.capacity !== undefined) args.push('--capacity', String(o.capacity));
      await ctl.cli(...args);
    },
    deploy: async (name, text) => {
      await ctl.cli('site', 'deploy', name, await content(name, text));
    },
    get: async (host, path = '/') => {
      const r = await client.exec('curl', ['-s', '--max-time', '5', '-H', `Host: ${host}`, '-w', '\n%{http_code}', `http://${balancer}${path}`]).catch((err: { stdout?: string }) => ({ stdout: `${err.stdout ?? ''}\n000` }));
      const lines = r.stdout.trimEnd().split('\n');
      const status = lines.pop() ?? '000';
      return { status, body: lines.join('\n') };
    },
    load: (args) => {
      const [node = process.execPath, ...argv] = nodeScript('lab/load-client');
      return lab.spawn(node, [...argv, JSON.stringify({ url: `http://${balancer}/`, ...args })], { name: `load-${Date.now()}`, netns: client, cwd: packageRoot() });
    },
  };
  await Promise.all(Array.from({ length: opts.nodes }, () => boot()));
  return cl;
}

/** Stops a load client and reads what it counted (one reader for the lab tests, benches and the demo). */
export { stopLoad as loadStats } from '../../src/lab/load-stats.js';
