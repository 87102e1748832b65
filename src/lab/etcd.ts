import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { BootfleetError } from '../errors.js';
import type { Lab } from './lab.js';
import { LabProcess } from './process.js';
import type { NetNamespace } from './netns.js';

/** One etcd member started by the lab. */
export interface EtcdMember {
  name: string;
  clientUrl: string;
  /** Its namespace (members in a lab), or undefined (a member on loopback). */
  netns: NetNamespace | undefined;
  process: LabProcess;
  /** SIGKILL, as a crash or a power cut would: no goodbye to its peers. */
  kill: () => Promise<void>;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL (what store.endpoints lists). */
  endpoints: string[];
  stop: () => Promise<void>;
}

/** Fails with what to install when Debian's etcd-server is missing. */
export async function requireEtcd(): Promise<void> {
  const r = await execa('sh', ['-c', 'command -v etcd'], { reject: false });
  if (r.exitCode !== 0) throw new BootfleetError('ERR_LAB', 'etcd is not installed: apt-get install etcd-server (scripts/setup-debian.sh)');
}

/**
 * `count` etcd members (Debian's etcd-server, API v3) in their own lab namespaces on the lab LAN,
 * at `firstAddress`, +1, +2 … (prefix `prefix`), one cluster, data in the lab's log dir. Resolves
 * once every member serves clients. The lab stops them with everything else.
 */
export async function startEtcdCluster(lab: Lab, opts: { count?: number; firstAddress: string; prefix?: number }): Promise<EtcdCluster> {
  await requireEtcd();
  const count = opts.count ?? 3;
  const prefix = opts.prefix ?? Number(lab.cidr.split('/')[1] ?? 24);
  const parts = opts.firstAddress.split('.').map(Number);
  const specs = Array.from({ length: count }, (_, i) => {
    const address = [parts[0], parts[1], parts[2], (parts[3] ?? 0) + i].join('.');
    return { name: `etcd${i + 1}`, address, peerUrl: `http://${address}:2380`, clientUrl: `http://${address}:2379` };
  });
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const members: EtcdMember[] = [];
  for (const s of specs) {
    const netns = await lab.addHost(s.name, `${s.address}/${prefix}`);
    const dataDir = join(lab.logDir, `${s.name}.data`);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const process = lab.spawn('etcd', memberArgs({ ...s, token: `bootfleet-${lab.ns.name}`, dataDir, listenClient: s.clientUrl, listenPeer: s.peerUrl, initialCluster }), { name: s.name, netns });
    members.push({ name: s.name, clientUrl: s.clientUrl, netns, process, kill: () => kill(process) });
  }
  await Promise.all(members.map((m) => m.process.waitFor(/serving client traffic|ready to serve client requests/, 60_000)));
  return { members, endpoints: members.map((m) => m.clientUrl), stop: async () => void (await Promise.all(members.map((m) => m.process.stop()))) };
}

/**
 * `count` etcd members on 127.0.0.1 (free ports), one cluster, no namespace and no root needed:
 * for tests of the store itself. `dir` holds their data and logs; stop them with `stop()`.
 */
export async function startLocalEtcd(dir: string, count = 1): Promise<EtcdCluster> {
  await requireEtcd();
  const specs = [];
  for (let i = 1; i <= count; i++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    specs.push({ name: `etcd${i}`, clientUrl: `http://127.0.0.1:${clientPort}`, peerUrl: `http://127.0.0.1:${peerPort}` });
  }
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const token = `bootfleet-local-${process.pid}-${Date.now()}`;
  const members: EtcdMember[] = [];
  for (const s of specs) {
    const dataDir = join(dir, `${s.name}.data`);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const args = memberArgs({ ...s, token, dataDir, listenClient: s.clientUrl, listenPeer: s.peerUrl, initialCluster });
    const proc = new LabProcess(['etcd', args], { name: s.name, logFile: join(dir, `${s.name}.log`) });
    members.push({ name: s.name, clientUrl: s.clientUrl, netns: undefined, process: proc, kill: () => kill(proc) });
  }
  await Promise.all(members.map((m) => m.process.waitFor(/serving client traffic|ready to serve client requests/, 60_000)));
  return { members, endpoints: members.map((m) => m.clientUrl), stop: async () => void (await Promise.all(members.map((m) => m.process.stop()))) };
}

function memberArgs(m: { token: string; name: string; dataDir: string; clientUrl: string; peerUrl: string; listenClient: string; listenPeer: string; initialCluster: string }): string[] {
  return [
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.listenClient, '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.listenPeer, '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', m.initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', m.token,
    '--logger', 'zap', '--log-outputs', 'stderr',
  ];
}

async function kill(p: LabProcess): Promise<void> {
  if (!p.running) return;
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await p.exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}
