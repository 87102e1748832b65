/**
 * The scale-out set-up of test/lab/scale-1000.test.ts and `npm run bench -- scale`: three etcd
 * members and two real controllers (`store.kind: etcd`) on one lab LAN, both serving the SAME
 * DHCP range, plus the wire simulator (src/lab/sim-clients.ts) in its own namespace speaking for
 * many PXE BIOS machines. The LAN is a /21 (198.18.0.0–198.18.7.255, inside the benchmark range
 * 198.18.0.0/15): ctl-a 198.18.0.1 (the lab's br0), ctl-b .0.2, the simulator .0.3, etcd
 * .0.11–13, and the range 198.18.4.0–198.18.7.254 (1,023 addresses) for the simulated nodes.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError } from '../errors.js';
import { packageRoot } from '../pkg.js';
import { startEtcdCluster, type EtcdCluster } from './etcd.js';
import { Lab } from './lab.js';
import { nodeScript, startLabController, type LabController } from './lab-controller.js';
import type { NetNamespace } from './netns.js';
import type { NodeBoot, SimSummary } from './sim-fleet.js';
import { LEADING } from './takeover.js';

export const SCALE_BRIDGE = '198.18.0.1/21';
export const SCALE_RANGE: [string, string] = ['198.18.4.0', '198.18.7.254'];
/** SCALE_RANGE as the prefix the simulator's namespace claims as local. */
const SCALE_ANYIP = '198.18.4.0/22';
/** The iPXE loader a PXE BIOS ROM is given (Debian's ipxe package); the simulated nodes fetch it over TFTP. */
export const BIOS_LOADER = '/usr/lib/ipxe/undionly.kpxe';

export interface ScaleLab {
  etcd: EtcdCluster;
  /** ctl-a (leads: started first) and ctl-b. */
  controllers: [LabController, LabController];
  sim: NetNamespace;
}

/** Lab.create options for a scale lab (the /21 LAN). */
export const scaleLabOptions = { bridgeCidr: SCALE_BRIDGE };

/** Starts etcd and both controllers in `lab` (made with scaleLabOptions); ctl-a leads once this resolves. */
export async function startScaleLab(lab: Lab, opts: { leaseTtlSeconds?: number } = {}): Promise<ScaleLab> {
  if (lab.cidr !== SCALE_BRIDGE) throw new BootfleetError('ERR_LAB', `a scale lab needs Lab.create({ bridgeCidr: '${SCALE_BRIDGE}' }), not ${lab.cidr}`);
  await access(BIOS_LOADER).catch(() => {
    throw new BootfleetError('ERR_LAB', `${BIOS_LOADER} is missing: apt-get install ipxe (scripts/setup-debian.sh)`);
  });
  const etcd = await startEtcdCluster(lab, { firstAddress: '198.18.0.11' });
  const ttl = opts.leaseTtlSeconds ?? 5;
  const controller = async (name: string, address: string): Promise<LabController> => {
    const own = address === lab.address ? {} : { netns: await lab.addHost(name, `${address}/21`), interface: 'eth0', address };
    return startLabController(lab, {
      name, ...own,
      bootFiles: { 'undionly.kpxe': BIOS_LOADER },
      dhcp: { mode: 'full', range: SCALE_RANGE, leaseSeconds: 3600 },
      config: { controller: { name, prefix: 21 }, store: { kind: 'etcd', endpoints: etcd.endpoints, leaseTtlSeconds: ttl } },
    });
  };
  const a = await controller('ctl-a', lab.address);
  await a.process.waitFor(LEADING, 60_000);
  const b = await controller('ctl-b', '198.18.0.2');
  return { etcd, controllers: [a, b], sim: await addSimHost(lab) };
}

/**
 * The simulator's namespace at 198.18.0.3, owning every address of SCALE_RANGE (an AnyIP local
 * route: it binds each node's ACKed address, receives for it and answers ARP for it).
 */
export async function addSimHost(lab: Lab): Promise<NetNamespace> {
  const sim = await lab.addHost('sim', '198.18.0.3/21');
  await sim.ip(['route', 'add', 'local', SCALE_ANYIP, 'dev', 'lo']);
  return sim;
}

/**
 * Runs the wire simulator for `count` machines (at most `inflight` booting at once) inside the
 * simulator's namespace and returns every node's boot and the summary. `timeoutMs` is a hang
 * guard only.
 */
export async function runSimulator(lab: Lab, sim: NetNamespace, opts: { count: number; inflight: number; firstTimeoutMs?: number; name?: string; timeoutMs?: number }): Promise<{ nodes: NodeBoot[]; summary: SimSummary }> {
  const name = opts.name ?? 'sim-clients';
  const out = join(lab.logDir, `${name}.jsonl`);
  const argv = nodeScript('lab/sim-clients');
  const child = lab.spawn(argv[0] ?? process.execPath, [...argv.slice(1), '--iface', 'eth0', '--count', String(opts.count), '--inflight', String(opts.inflight), '--out', out, ...(opts.firstTimeoutMs ? ['--first-timeout-ms', String(opts.firstTimeoutMs)] : [])], {
    name, netns: sim, cwd: packageRoot(),
  });
  const m = await child.waitFor(/^SIM-DONE (.*)$/m, opts.timeoutMs ?? 15 * 60_000);
  await child.exited;
  const nodes = (await readFile(out, 'utf8')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as NodeBoot);
  return { nodes, summary: JSON.parse(m[1] ?? '{}') as SimSummary };
}
