import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleFull, type FullContext } from '../../src/dhcp/full.js';
import { LeasePool } from '../../src/dhcp/leases.js';
import { decodePacket } from '../../src/dhcp/packet.js';
import { requestInfo } from '../../src/dhcp/request-info.js';
import { duplicateAddresses, simulateFleet } from '../../src/lab/dhcp-sim.js';
import type { NetParams } from '../../src/dhcp/reply.js';
import type { DhcpRequestInfo } from '../../src/dhcp/types.js';
import { EtcdAddressClaims } from '../../src/store/etcd/claims.js';
import { clientPacket, MessageType } from './lab.js';
import { localEtcd } from '../helpers/etcd.js';

// Two controllers' full-mode DHCP logic over ONE range, sharing address claims in a real etcd
// (Debian's etcd-server on loopback): many clients, each broadcasting to both, must never get one
// address twice. Real packets through the real handlers; the wire is simulated (src/lab/dhcp-sim.ts).

const range: [string, string] = ['198.18.0.100', '198.18.0.199'];
const net = (serverAddress: string): NetParams => ({ serverAddress, subnetMask: '255.255.255.0', prefix: 24, dns: [] });

async function controller(t: ExecutionContext, serverAddress: string, claims?: EtcdAddressClaims): Promise<FullContext> {
  const stateDir = await mkdtemp(join(tmpdir(), 'bf-claims-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const pool = await LeasePool.open({ range, leaseSeconds: 600, stateDir });
  return { net: net(serverAddress), pool, leaseSeconds: 600, boot: () => undefined, now: Date.now, ...(claims ? { claims } : {}) };
}

function info(buf: Buffer): DhcpRequestInfo {
  const r = requestInfo(decodePacket(buf), 67, { address: '0.0.0.0', port: 68 });
  if (!r) throw new Error('not a client message');
  return r;
}

test('two controllers over one range: without shared claims the same address goes to two clients (the race this guards)', async (t) => {
  const result = await simulateFleet([await controller(t, '198.18.0.1'), await controller(t, '198.18.0.2')], 90);
  t.true(duplicateAddresses(result.values()) > 0);
});

test('two controllers over one range claiming in etcd: 90 clients at once, every one an address, no address twice', async (t) => {
  const { connect } = await localEtcd(t);
  const servers = [
    await controller(t, '198.18.0.1', new EtcdAddressClaims(await connect())),
    await controller(t, '198.18.0.2', new EtcdAddressClaims(await connect())),
  ];
  const result = await simulateFleet(servers, 90);
  t.is(duplicateAddresses(result.values()), 0);
  t.deepEqual([...result].filter(([, ip]) => ip === undefined).map(([mac]) => mac), [], 'every client got an address');
  // A renewal through the other controller keeps the client's address (same MAC: the claim extends).
  const [mac, ip] = [...result][0] ?? ['', ''];
  const renew = await Promise.all(servers.map((s) => handleFull(info(clientPacket(MessageType.Request, mac, { requested: ip })), s)));
  t.true(renew.some((o) => o.kind === 'reply' && o.type === 'ack' && o.ip === ip));
});

test('etcd address claims: one MAC at a time; the same MAC extends; an expired claim is taken over', async (t) => {
  const { connect } = await localEtcd(t);
  let now = 1_000_000;
  const a = new EtcdAddressClaims(await connect(), () => now);
  const b = new EtcdAddressClaims(await connect(), () => now);
  t.deepEqual(await a.claim('198.18.0.100', 'aa', now + 60_000), { ok: true });
  t.deepEqual(await b.claim('198.18.0.100', 'bb', now + 60_000), { ok: false, mac: 'aa', until: now + 60_000 });
  t.deepEqual(await b.claim('198.18.0.100', 'aa', now + 120_000), { ok: true }, 'the holder renews through the other controller');
  now += 120_001;
  t.deepEqual(await b.claim('198.18.0.100', 'bb', now + 60_000), { ok: true }, 'expired: free for another');
  const [x, y] = await Promise.all([a.claim('198.18.0.101', 'xx', now + 1000), b.claim('198.18.0.101', 'yy', now + 1000)]);
  t.is([x, y].filter((r) => r.ok).length, 1, 'two claims at once: exactly one wins');
});
