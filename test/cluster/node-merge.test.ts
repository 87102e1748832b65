import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRegistry, type NodeRecord } from '../../src/cluster/nodes.js';

const MAC = '52:54:00:00:00:01';

async function registry(t: import('ava').ExecutionContext, changed: string[]): Promise<NodeRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'bootfleet-nodes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let clock = Date.parse('2026-12-02T10:00:00Z');
  return NodeRegistry.open(dir, { now: () => new Date((clock += 1000)), onChange: (n) => changed.push(n.mac) });
}

function remote(over: Partial<NodeRecord>): NodeRecord {
  return { mac: MAC, firmware: 'bios', firstSeen: '2026-12-02T09:00:00.000Z', lastSeen: '2026-12-02T11:00:00.000Z', events: [], ...over };
}

const beat = (at: string, image: string) => ({ at, generation: 1, image, sites: [], load1: 0, memFreeKb: 1, requests: 0, bootToken: '' });

test('a node another controller saw is added; merging never tells onChange, so records do not echo between controllers', async (t) => {
  const changed: string[] = [];
  const r = await registry(t, changed);
  t.true(r.merge(remote({ ip: '198.18.0.150', hostname: 'web-1' })));
  t.is(r.get(MAC)?.hostname, 'web-1');
  t.is(r.byAddress('198.18.0.150')?.mac, MAC);
  t.false(r.merge(remote({ ip: '198.18.0.150', hostname: 'web-1' })), 'the same record again changes nothing');
  t.deepEqual(changed, []);
});

test('the newer heartbeat wins whichever record brings it; facts come from the record seen last; events are the union', async (t) => {
  const changed: string[] = [];
  const r = await registry(t, changed);
  r.observe(MAC, { firmware: 'bios', ip: '198.18.0.150', hostname: 'web-1' });
  r.update(MAC, { heartbeat: beat('2026-12-02T10:00:05.000Z', 'tiny@1') });
  r.record(MAC, 'dhcp', 'local');
  t.true(changed.length > 0, 'local changes are told (they are what gets shared)');
  changed.length = 0;
  // Seen later by the other controller, with a newer heartbeat and another address.
  t.true(r.merge(remote({ ip: '198.18.0.151', heartbeat: beat('2026-12-02T10:59:00.000Z', 'tiny@2'), events: [{ stage: 'agent', at: '2026-12-02T10:59:00.000Z', detail: 'remote' }] })));
  const n = r.get(MAC);
  t.is(n?.heartbeat?.image, 'tiny@2');
  t.is(n?.ip, '198.18.0.151');
  t.is(n?.hostname, 'web-1', 'a fact the remote record lacks is kept');
  t.deepEqual(n?.events.map((e) => e.detail), ['local', 'remote']);
  // An older record from the other controller takes nothing away.
  t.false(r.merge(remote({ lastSeen: '2026-12-02T09:30:00.000Z', ip: '198.18.0.99', heartbeat: beat('2026-12-02T09:30:00.000Z', 'tiny@0') })));
  t.is(r.get(MAC)?.heartbeat?.image, 'tiny@2');
  t.is(r.get(MAC)?.ip, '198.18.0.151');
  t.deepEqual(changed, []);
});
