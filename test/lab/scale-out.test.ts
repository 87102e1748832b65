import test from 'ava';
import { requireLab, withLab } from '../helpers/lab.js';
import { startEtcdCluster, type EtcdCluster, type EtcdMember } from '../../src/lab/etcd.js';
import { startLabController, type LabController } from '../../src/lab/lab-controller.js';
import type { Lab } from '../../src/lab/lab.js';
import { execa } from 'execa';
import { eventually } from '../helpers/etcd.js';

// Two real controllers (`bootfleet controller` processes, each in its own namespace on the lab
// LAN) sharing a 3-member etcd (Debian's etcd-server, each member in its own namespace):
// store.kind etcd as docs/scale-out.md describes it. No QEMU: nothing here boots.

const LEADING = /leading: this controller runs placement and rollouts/;

/** Controller `name` at `address` (ctl-a in the lab namespace on br0, others in their own), DHCP over its own half of the range. */
async function controller(lab: Lab, etcd: EtcdCluster, name: string, address: string, range: [string, string]): Promise<LabController> {
  const own = address === lab.address ? {} : { netns: await lab.addHost(name, `${address}/24`), interface: 'eth0', address };
  return startLabController(lab, {
    name, ...own,
    dhcp: { mode: 'full', range, leaseSeconds: 3600 },
    config: { controller: { name }, store: { kind: 'etcd', endpoints: etcd.endpoints, leaseTtlSeconds: 3 } },
  });
}

test('two controllers on a 3-member etcd: shared state, one leader, the leader killed by PID and the other takes over; an etcd member killed and nothing stops', async (t) => {
  await requireLab();
  const lab = await withLab(t);
  const etcd = await startEtcdCluster(lab, { firstAddress: '198.18.0.11' });
  const a = await controller(lab, etcd, 'ctl-a', lab.address, ['198.18.0.100', '198.18.0.149']);
  await a.process.waitFor(LEADING, 60_000);
  const b = await controller(lab, etcd, 'ctl-b', '198.18.0.2', ['198.18.0.150', '198.18.0.199']);
  t.notRegex(b.process.output(), LEADING, 'b follows while a leads');

  // A change made through one controller is what the other serves.
  await b.cli('node', 'approve', '52:54:00:bf:00:01', '--hostname', 'web1');
  await eventually('a lists the machine approved through b', async () => (await a.node('52:54:00:bf:00:01'))?.hostname === 'web1');

  // The leader dies without a word: its lease is not renewed, etcd drops it after the TTL.
  process.kill(a.process.pid, 'SIGKILL');
  await a.process.exited;
  await b.process.waitFor(LEADING, 60_000);
  t.is(await leaderKey(lab, etcd), 'ctl-b');

  // One etcd member killed (the raft leader, the worst one): the two left keep a quorum.
  const member = await raftLeader(lab, etcd);
  await member.kill();
  await b.cli('node', 'approve', '52:54:00:bf:00:02', '--hostname', 'web2');
  t.is((await b.node('52:54:00:bf:00:02'))?.hostname, 'web2');
  t.is(await leaderKey(lab, etcd), 'ctl-b', 'b still leads: its lease lives in the surviving quorum');
  t.true(b.process.running);
});

/** etcdctl (Debian's etcd-client) in the lab namespace, against the members still running. */
async function etcdctl(lab: Lab, etcd: EtcdCluster, ...args: string[]): Promise<string> {
  const endpoints = etcd.members.filter((m) => m.process.running).map((m) => m.clientUrl).join(',');
  const [file, argv] = lab.ns.wrap('etcdctl', [`--endpoints=${endpoints}`, ...args]);
  return (await execa(file, argv, { env: { ETCDCTL_API: '3' } })).stdout;
}

/** Whose name the leader key holds. */
async function leaderKey(lab: Lab, etcd: EtcdCluster): Promise<string> {
  return (await etcdctl(lab, etcd, 'get', '/bootfleet/leader', '--print-value-only')).trim();
}

/** The member that is raft leader now (killing it forces a raft election: the worst single loss). */
async function raftLeader(lab: Lab, etcd: EtcdCluster): Promise<EtcdMember> {
  // Member ids are 64-bit: kept as strings, not rounded into doubles.
  const text = (await etcdctl(lab, etcd, 'endpoint', 'status', '-w', 'json')).replace(/"(leader|member_id)":(\d+)/g, '"$1":"$2"');
  const status = JSON.parse(text) as Array<{ Endpoint: string; Status: { leader: string; header: { member_id: string } } }>;
  const leader = status.find((s) => s.Status.leader === s.Status.header.member_id);
  const member = etcd.members.find((m) => m.clientUrl === leader?.Endpoint);
  if (!member) throw new Error(`no etcd member says it is the raft leader: ${JSON.stringify(status)}`);
  return member;
}
