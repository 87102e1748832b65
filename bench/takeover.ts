/**
 * Takeover: `sudo npm run bench -- takeover`. Two real controllers (each in its own namespace on
 * the lab LAN) share three etcd members (Debian's etcd-server, each in its own namespace) with
 * `store.kind: etcd`. Per round the leading controller is killed by PID (SIGKILL: no goodbye, its
 * lease renewals just stop) and the time until the other logs that it leads is measured (the
 * survivor's own log timestamp minus the moment of the kill, one clock). The dead one is started
 * again as the follower for the next round. Expected: at most store.leaseTtlSeconds plus the
 * watch's delivery (docs/scale-out.md). Last line: `takeover_s: X` (median).
 * Env: TAKEOVER_BENCH_ROUNDS (default 5), TAKEOVER_BENCH_TTL (seconds, default 5: the default TTL).
 */
import { Lab } from '../src/lab/lab.js';
import { startEtcdCluster, type EtcdCluster } from '../src/lab/etcd.js';
import { startLabController, type LabController } from '../src/lab/lab-controller.js';
import type { NetNamespace } from '../src/lab/netns.js';
import { LEADING, killLeaderAndTime } from '../src/lab/takeover.js';

interface Seat { name: string; address: string; range: [string, string]; netns?: NetNamespace; ctl?: LabController }

export async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the takeover benchmark makes network namespaces: run it as root');
  const rounds = Number(process.env['TAKEOVER_BENCH_ROUNDS'] ?? 5);
  const ttl = Number(process.env['TAKEOVER_BENCH_TTL'] ?? 5);
  const lab = await Lab.create();
  try {
    const etcd = await startEtcdCluster(lab, { firstAddress: '198.18.0.11' });
    const seats: Seat[] = [
      { name: 'ctl-a', address: lab.address, range: ['198.18.0.100', '198.18.0.149'] },
      { name: 'ctl-b', address: '198.18.0.2', range: ['198.18.0.150', '198.18.0.199'], netns: await lab.addHost('ctl-b', '198.18.0.2/24') },
    ];
    const [first, second] = seats as [Seat, Seat];
    first.ctl = await start(lab, etcd, first, ttl);
    await first.ctl.process.waitFor(LEADING, 60_000);
    second.ctl = await start(lab, etcd, second, ttl);
    let [leader, follower] = [first, second];
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const dead = leader.ctl;
      if (!dead || !follower.ctl) throw new Error('a controller is missing');
      times.push(await killLeaderAndTime(dead, follower.ctl));
      console.log(`round ${i + 1}: ${follower.name} leads ${times.at(-1)?.toFixed(2)} s after ${leader.name} was killed`);
      leader.ctl = await start(lab, etcd, leader, ttl);
      [leader, follower] = [follower, leader];
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(`\ntakeover: leader killed by PID, store.leaseTtlSeconds ${ttl}, ${rounds} rounds, 3 etcd members`);
    console.log(`min ${sorted[0]?.toFixed(2)} s, max ${sorted.at(-1)?.toFixed(2)} s`);
    console.log(`takeover_s: ${(sorted[Math.floor(sorted.length / 2)] ?? NaN).toFixed(2)}`);
  } finally {
    await lab.destroy();
  }
}

function start(lab: Lab, etcd: EtcdCluster, seat: Seat, ttl: number): Promise<LabController> {
  return startLabController(lab, {
    name: seat.name,
    ...(seat.netns ? { netns: seat.netns, interface: 'eth0', address: seat.address } : {}),
    dhcp: { mode: 'full', range: seat.range, leaseSeconds: 3600 },
    config: { controller: { name: seat.name }, store: { kind: 'etcd', endpoints: etcd.endpoints, leaseTtlSeconds: ttl } },
  });
}
