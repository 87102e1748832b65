import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterLoop } from '../../src/controller/cluster-loop.js';
import { ClusterStore } from '../../src/cluster/store.js';
import { NodeRegistry } from '../../src/cluster/nodes.js';
import { FileStateStore } from '../../src/store/state.js';
import type { Leadership } from '../../src/store/leadership.js';
import { silentLogger } from '../../src/log.js';
import type { MachineSpec } from '../../src/boot/policy.js';
import { eventually } from '../helpers/etcd.js';

/** A Leadership whose answer the test sets (the etcd one is tested in test/store/etcd-lab.test.ts). */
function switchable(): Leadership & { set: (leading: boolean) => void } {
  let leading = false;
  const listeners = new Set<(l: boolean) => void>();
  return {
    name: 'test', isLeader: () => leading, leader: () => (leading ? 'test' : 'other'),
    onChange: (l) => (listeners.add(l), () => listeners.delete(l)),
    stop: async () => undefined,
    set: (l) => {
      leading = l;
      for (const f of listeners) f(l);
    },
  };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

test('cluster loop: only the leader reconciles; it starts at once when it becomes leader and stops when it loses it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bootfleet-loop-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cluster = await ClusterStore.open(new FileStateStore(dir), dir);
  let steps = 0;
  const change = cluster.change.bind(cluster);
  cluster.change = (edit) => {
    steps++;
    return change(edit);
  };
  const leadership = switchable();
  const loop = new ClusterLoop({
    cluster, nodes: await NodeRegistry.open(dir), leadership, balancerListen: [],
    spec: () => ({ admission: 'admitted' }) as MachineSpec,
    downAfterMs: 10_000, epsilon: 0.1, scale: { cooldownMs: 1000 },
    log: silentLogger(), intervalMs: 3_600_000,
  });
  t.teardown(() => loop.stop());
  loop.start();
  loop.kick();
  await settle();
  t.is(steps, 0, 'a follower does not reconcile');
  leadership.set(true);
  // The loop's own tick is an hour away: only the leadership change can start this step.
  await eventually('the new leader reconciles', () => steps === 1);
  await settle();
  t.is(steps, 1);
  leadership.set(false);
  loop.kick();
  await settle();
  t.is(steps, 1, 'a deposed leader stops');
});
