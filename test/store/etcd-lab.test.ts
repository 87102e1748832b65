import test from 'ava';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { ConflictError, mutate } from '../../src/store/state.js';
import { EtcdStateStore } from '../../src/store/etcd/state.js';
import { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import { ClusterStore } from '../../src/cluster/store.js';
import { LabProcess } from '../../src/lab/process.js';
import { nodeScript } from '../../src/lab/lab-controller.js';
import type { EtcdCluster, EtcdMember } from '../../src/lab/etcd.js';
import { BootfleetError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { eventually, localEtcd } from '../helpers/etcd.js';

// The StateStore and leader election on a real etcd (Debian's etcd-server on loopback, no root):
// what controllers sharing it rely on. Named -lab: it starts real etcd members.

test('etcd state store: a write is a compare-and-swap on the key\'s mod revision', async (t) => {
  const { connect } = await localEtcd(t);
  const store = new EtcdStateStore(await connect());
  t.is(await store.get('cluster'), undefined);
  const r1 = await store.put('cluster', { n: 1 }, 0);
  t.true(r1 > 0);
  await t.throwsAsync(store.put('cluster', { n: 2 }, 0), { instanceOf: ConflictError }, 'creating an existing key is a conflict');
  const r2 = await store.put('cluster', { n: 2 }, r1);
  t.true(r2 > r1);
  await t.throwsAsync(store.put('cluster', { n: 3 }, r1), { instanceOf: ConflictError, message: new RegExp(`expected revision ${r1}, found ${r2}`) });
  t.deepEqual(await store.get('cluster'), { value: { n: 2 }, revision: r2 });
});

test('etcd state store: revisions are per key, grow with every write anywhere, and a stale one never wins', async (t) => {
  const { connect } = await localEtcd(t);
  const store = new EtcdStateStore(await connect());
  const a1 = await store.put('a', 'x', 0);
  const b1 = await store.put('b', 'y', 0);
  t.true(b1 > a1, 'etcd revisions are cluster-wide: the later write has the larger one');
  t.is((await store.get('a'))?.revision, a1, 'a write to b leaves a\'s revision alone');
  const a2 = await store.put('a', 'x2', a1);
  t.true(a2 > b1);
  // A writer holding the revision of before b's write (b1 is no revision a ever had).
  await t.throwsAsync(store.put('a', 'stale', b1), { instanceOf: ConflictError });
  t.is((await store.get<string>('a'))?.value, 'x2');
});

test('etcd state store: two controllers changing one document at once lose no change', async (t) => {
  const { connect } = await localEtcd(t);
  const a = new EtcdStateStore(await connect());
  const b = new EtcdStateStore(await connect());
  const bump = (store: EtcdStateStore) => mutate<{ n: number; by: string[] }>(store, 'counter', { n: 0, by: [] }, (s) => ({ n: s.n + 1, by: [...s.by, store === a ? 'a' : 'b'] }), 200);
  await Promise.all(Array.from({ length: 25 }, () => [bump(a), bump(b)]).flat());
  const final = await a.get<{ n: number; by: string[] }>('counter');
  t.is(final?.value.n, 50);
  t.is(final?.value.by.filter((x) => x === 'a').length, 25);
});

test('etcd state store: a ClusterStore follows changes the other controller makes', async (t) => {
  const { connect } = await localEtcd(t);
  const a = await ClusterStore.open(new EtcdStateStore(await connect()), '/nonexistent');
  const b = await ClusterStore.open(new EtcdStateStore(await connect()), '/nonexistent');
  const seen: number[] = [];
  b.onChange((s) => seen.push(s.generation));
  await a.add({ mac: '52:54:00:00:00:01', hostname: 'web1', addedAt: new Date().toISOString() });
  await eventually('b sees the approval', () => b.list().some((e) => e.hostname === 'web1'));
  t.is(b.current.generation, a.current.generation);
  t.deepEqual(seen, [a.current.generation], 'b\'s listeners (the manifests\' long-polls) are told once');
  await b.requestReboot('52:54:00:00:00:01');
  await eventually('a sees b\'s change', () => a.current.reboots['52:54:00:00:00:01'] !== undefined);
});

test('etcd state store on 3 members: the raft leader killed, writes go on; a second one killed, a clear error', async (t) => {
  const { etcd, connect } = await localEtcd(t, 3);
  const store = new EtcdStateStore(await connect('/bootfleet/', 2));
  let rev = await store.put('cluster', { n: 0 }, 0);
  const leader = await raftLeader(etcd);
  await leader.kill();
  t.false(leader.process.running);
  // The two left still have a quorum: after a new raft election, every write lands.
  for (let n = 1; n <= 20; n++) rev = await store.put('cluster', { n }, rev);
  t.deepEqual((await store.get('cluster'))?.value, { n: 20 });

  const second = etcd.members.find((m) => m.process.running);
  await second?.kill();
  const err = await t.throwsAsync(store.put('cluster', { n: 21 }, rev), { instanceOf: BootfleetError });
  t.is(err?.code, 'ERR_STORE_UNAVAILABLE');
  t.regex(err?.message ?? '', /etcdctl endpoint health/, 'the error says what to check');
});

test('etcd leadership: one leader; a clean stop hands over at once', async (t) => {
  const { connect } = await localEtcd(t);
  const log = silentLogger();
  const a = new EtcdLeadership(await connect(), 'a', 2, log);
  await eventually('a leads', () => a.isLeader());
  const b = new EtcdLeadership(await connect(), 'b', 2, log);
  t.teardown(() => b.stop());
  await eventually('b sees a as leader', () => b.leader() === 'a');
  t.false(b.isLeader());
  const changes: boolean[] = [];
  b.onChange((leading) => changes.push(leading));
  await a.stop();
  await eventually('b leads after a stopped', () => b.isLeader());
  t.false(a.isLeader());
  t.is(b.leader(), 'b');
  t.deepEqual(changes, [true]);
});

test('etcd leadership on 3 members: the leading process killed by PID, the other takes over', async (t) => {
  const { etcd, dir } = await localEtcd(t, 3);
  const campaign = (name: string): LabProcess => {
    const [node = process.execPath, ...script] = nodeScript('lab/leader-process');
    const p = new LabProcess([node, [...script, name, '2', ...etcd.endpoints]], { name, logFile: join(dir, `${name}.log`) });
    t.teardown(() => p.stop());
    return p;
  };
  const a = campaign('a');
  await a.waitFor(/leading a/, 60_000);
  const b = campaign('b');
  await b.waitFor(/campaigning b/, 60_000);
  t.notRegex(b.output(), /leading b/, 'one leader at a time');
  process.kill(a.pid, 'SIGKILL');
  await a.exited;
  // No goodbye from a: its lease renewals stop, etcd drops the lease and the key after the TTL.
  await b.waitFor(/leading b/, 60_000);
  const check = new Etcd3({ hosts: etcd.endpoints });
  t.teardown(() => check.close());
  t.is(await check.get('/bootfleet/leader').string(), 'b');
});

/** The member that is raft leader now (what a kill hurts most: an election must follow). */
async function raftLeader(etcd: EtcdCluster): Promise<EtcdMember> {
  for (const m of etcd.members) {
    const c = new Etcd3({ hosts: m.clientUrl });
    try {
      const s = await c.maintenance.status();
      if (s.leader === s.header.member_id) return m;
    } finally {
      c.close();
    }
  }
  throw new Error('no etcd member says it is the raft leader');
}
