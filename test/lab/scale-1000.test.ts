import test from 'ava';
import { requireLab, withLab } from '../helpers/lab.js';
import { stat } from 'node:fs/promises';
import { BIOS_LOADER, runSimulator, scaleLabOptions, startScaleLab } from '../../src/lab/scale-lab.js';
import type { NodeBoot } from '../../src/lab/sim-fleet.js';
import { simMac } from '../../src/lab/dhcp-sim.js';

// 1,000 machines booting through two real controllers on one LAN, both serving the same DHCP
// range, sharing three etcd members (src/lab/scale-lab.ts). The machines are simulated on the
// wire by one process (src/lab/sim-clients.ts): real DHCP broadcasts, each from its own MAC, then
// a real TFTP read of the loader the ACK named from the node's own address. No QEMU. Speed is
// the benchmark's business (`npm run bench -- scale`); this checks the outcome.

const COUNT = 1000;

test('1,000 simulated PXE machines boot through two controllers sharing one range: every one gets an address and its loader, no address twice, both controllers answer', async (t) => {
  t.timeout(20 * 60_000, 'hang guard: 3 etcd members, 2 controllers and 1,000 boots on a shared 2-core machine');
  await requireLab();
  const lab = await withLab(t, scaleLabOptions);
  const { controllers: [a, b], sim } = await startScaleLab(lab);
  const { nodes, summary } = await runSimulator(lab, sim, { count: COUNT, inflight: 50 });
  t.log(`${summary.booted}/${COUNT} booted in ${summary.seconds.toFixed(1)} s; by server ${JSON.stringify(summary.byServer)}`);

  const byMac = new Map(nodes.map((n) => [n.mac, n]));
  const missing = Array.from({ length: COUNT }, (_, i) => simMac(i)).filter((mac) => !byMac.has(mac));
  t.deepEqual(missing, [], 'the simulator reported every MAC');
  const failed = nodes.filter((n): n is Extract<NodeBoot, { failed: string }> => 'failed' in n);
  t.deepEqual(failed.slice(0, 5), [], `${failed.length} machines did not boot (first five shown)`);

  const booted = nodes.filter((n): n is Exclude<NodeBoot, { failed: string }> => !('failed' in n));
  const holders = new Map<string, string[]>();
  for (const n of booted) holders.set(n.ip, [...(holders.get(n.ip) ?? []), n.mac]);
  const duplicates = [...holders].filter(([, macs]) => macs.length > 1);
  t.deepEqual(duplicates, [], 'no address was ACKed to two machines');
  t.is(summary.duplicates, 0);

  // Both controllers served boots (each DHCP reply says who sent it: option 54).
  const servers = new Set(booted.map((n) => n.server));
  t.deepEqual([...servers].sort(), ['198.18.0.1', '198.18.0.2']);
  t.log(`answered by ctl-a ${summary.byServer['198.18.0.1']}, ctl-b ${summary.byServer['198.18.0.2']}`);

  // Every machine read the whole loader, by the name its ACK gave, from its own address.
  const size = (await stat(BIOS_LOADER)).size;
  t.deepEqual(booted.filter((n) => n.file !== 'undionly.kpxe' || n.bytes !== size).slice(0, 5), [], `every machine got undionly.kpxe, ${size} bytes`);
  t.true(a.process.running && b.process.running, 'both controllers still run');
});
