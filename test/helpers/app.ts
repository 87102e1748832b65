import { mkdtemp, writeFile, mkdir, symlink } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp, type AppDeps } from '../../src/http/app.js';
import { NodeRegistry, type NodeFacts } from '../../src/cluster/nodes.js';
import { Templates } from '../../src/render/templates.js';
import { silentLogger } from '../../src/log.js';
import type { PolicyContext } from '../../src/boot/policy.js';
import { ClusterStore } from '../../src/cluster/store.js';
import { ContentStore } from '../../src/cluster/content.js';
import { FileStateStore } from '../../src/store/state.js';
import { BootGlue } from '../../src/controller/boot-glue.js';
import { nodeSecret } from '../../src/auth/secrets.js';

export const ADMIN_TOKEN = 'a'.repeat(64);
const NODE_KEY = Buffer.alloc(32, 7);

/** The address the app's own nodes call from; another host on the LAN calls from STRANGER. */
export const NODE_ADDRESS = '127.0.0.1';
export const STRANGER = '127.0.0.2';

export interface TestApp {
  base: string;
  deps: AppDeps;
  policy: PolicyContext;
  cluster: ClusterStore;
  /** A node the controller saw through DHCP at NODE_ADDRESS (or `facts.ip`). */
  node: (mac: string, facts?: NodeFacts) => void;
  /** The secret the controller hands `mac` in its boot info. */
  secretOf: (mac: string) => string;
  /** An HTTP request from `from` (default NODE_ADDRESS), with the headers given. */
  call: (path: string, init?: CallInit) => Promise<CallResult>;
  close: () => Promise<void>;
}

export interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  from?: string;
  /** Adds `Authorization: Bearer <admin token>`. */
  admin?: boolean;
  /** Adds `Authorization: Bearer <that node's secret>`. */
  asNode?: string;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/**
 * The real HTTP app on an ephemeral loopback port, with the real boot policy over a test context,
 * a temp boot dir holding `vmlinuz`, `initrd.img` and a symlink `escape` pointing outside it.
 * `policy` and `over` replace parts of the policy context and of the dependencies.
 */
export async function withApp(opts: { policy?: Partial<PolicyContext>; over?: Partial<AppDeps> } = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-http-'));
  const bootDir = join(dir, 'boot');
  await mkdir(bootDir);
  await writeFile(join(bootDir, 'vmlinuz'), Buffer.alloc(10000, 7));
  await writeFile(join(bootDir, 'initrd.img'), 'initrd');
  await writeFile(join(dir, 'secret'), 'outside');
  await symlink(join(dir, 'secret'), join(bootDir, 'escape'));
  const cluster = await ClusterStore.open(new FileStateStore(join(dir, 'state')), join(dir, 'state'));
  const policy: PolicyContext = {
    httpBase: 'http://198.18.0.1:8080',
    admit: { rpi: 'approve', pc: 'open' },
    get enrolled() {
      return cluster.list();
    },
    configured: new Map(),
    bootDefault: { kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline: 'console=ttyS0' },
    ipxeFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
    piBoot: { kernel: 'kernel8.img', initramfs: 'initramfs8', deviceTree: '', cmdline: '' },
    findImage: () => undefined,
    ...opts.policy,
  };
  const nodes = await NodeRegistry.open(join(dir, 'state'));
  const glue = new BootGlue(nodes, () => policy, { httpBase: policy.httpBase, dhcpMode: 'full', serverAddress: '198.18.0.1' }, silentLogger());
  const deps: AppDeps = {
    log: silentLogger(),
    nodes,
    templates: new Templates(resolve('pxe')),
    bootDir,
    httpBase: policy.httpBase,
    health: () => ({ dhcp: true, tftp: true, http: true }),
    spec: (node, arch) => glue.spec(node, arch),
    imageDir: () => undefined,
    nodeOverlay: async (spec) => Buffer.from(`overlay for ${spec.mac}`),
    cluster,
    content: new ContentStore(join(dir, 'content')),
    waitForChange: async (generation, timeoutMs) => {
      const until = Date.now() + timeoutMs;
      while (cluster.current.generation === generation && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    },
    heartbeatSeconds: 2,
    downAfterMs: 6000,
    adminToken: ADMIN_TOKEN,
    nodeSecret: (mac) => nodeSecret(NODE_KEY, mac),
    ...opts.over,
  };
  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    deps,
    policy,
    cluster,
    node: (mac, facts = {}) => {
      nodes.observe(mac, { firmware: 'bios', ip: NODE_ADDRESS, ...facts });
    },
    secretOf: (mac) => deps.nodeSecret(mac),
    call: (path, init = {}) => call(port, path, {
      ...init,
      headers: {
        ...init.headers,
        ...(init.admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}),
        ...(init.asNode ? { authorization: `Bearer ${deps.nodeSecret(init.asNode)}` } : {}),
      },
    }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** node:http, because fetch cannot choose the local address a request comes from. */
function call(port: number, path: string, init: CallInit): Promise<CallResult> {
  return new Promise((resolvePromise, reject) => {
    const headers = { ...init.headers, ...(init.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(init.body)) }) };
    const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers, localAddress: init.from ?? NODE_ADDRESS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
