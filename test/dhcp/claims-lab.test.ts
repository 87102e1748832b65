import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleFull, type FullContext } from '../../src/dhcp/full.js';
import { LeasePool } from '../../src/dhcp/leases.js';
import { decodePacket } from '../../src/dhcp/packet.js';
import { requestInfo } from '../../src/dhcp/request-info.js';
import type { NetParams } from '../../src/dhcp/reply.js';
import type { DhcpRequestInfo } from '../../src/dhcp/types.js';
import { EtcdAddressClaims } from '../../src/store/etcd/claims.js';
import { clientPacket, MessageType } from './lab.js';
import { localEtcd } from '../helpers/etcd.js';

// Two controllers' full-mode DHCP logic over ONE range, sharing address claims in a real etcd
// (Debian's etcd-server on loopback): many clients, each broadcasting to both, must never get one
// address twice. The packets are real DHCP packets through the real handlers; what is simulated is
// the wire (both servers see every broadcast, the client takes one of the offers).

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

/** A fixed-seed PRNG (mulberry32): the same packet orders every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(12);

/** A broadcast reaches each server after its own small delay, so the servers see clients in different orders (as on a real LAN). */
async function deliver(server: FullContext, packet: Buffer): Promise<Awaited<ReturnType<typeof handleFull>>> {
  await new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
  return handleFull(info(packet), server);
}

/** One client: DISCOVER to every server, REQUEST the offer it picks (broadcast: every server sees it), again after a NAK or no offer. */
async function boot(mac: string, servers: FullContext[], pick: number): Promise<string | undefined> {
  // A real client never gives up; 20 rounds is a hang guard.
  for (let attempt = 0; attempt < 20; attempt++) {
    // RFC 2131 §4.1: a client waits before it tries again (4 s, 8 s …; shortened here). Meanwhile
    // the offers other clients did not take are given back.
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500 * Math.min(attempt, 4)));
    const offers = (await Promise.all(servers.map((s) => deliver(s, clientPacket(MessageType.Discover, mac)))))
      .flatMap((o, i) => (o.kind === 'reply' && o.type === 'offer' && o.ip ? [{ ip: o.ip, server: servers[i] as FullContext }] : []));
    const chosen = offers[(pick + attempt) % Math.max(1, offers.length)];
    if (!chosen) continue;
    const request = clientPacket(MessageType.Request, mac, { requested: chosen.ip, serverId: chosen.server.net.serverAddress });
    const answers = await Promise.all(servers.map((s) => deliver(s, request)));
    const ack = answers.find((o) => o.kind === 'reply' && o.type === 'ack');
    if (ack && ack.kind === 'reply') return ack.ip;
  }
  return undefined;
}

/** `clients` booting at once through both servers: the addresses they hold at the end. */
async function fleet(servers: FullContext[], clients: number): Promise<Map<string, string | undefined>> {
  const macs = Array.from({ length: clients }, (_, i) => `52:54:00:cc:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`);
  const got = await Promise.all(macs.map((mac, i) => boot(mac, servers, i)));
  return new Map(macs.map((mac, i) => [mac, got[i]]));
}

function duplicates(addresses: Iterable<string | undefined>): number {
  const seen = new Set<string>();
  let dup = 0;
  for (const ip of addresses) {
    if (ip === undefined) continue;
    if (seen.has(ip)) dup++;
    seen.add(ip);
  }
  return dup;
}

test('two controllers over one range: without shared claims the same address goes to two clients (the race this guards)', async (t) => {
  const result = await fleet([await controller(t, '198.18.0.1'), await controller(t, '198.18.0.2')], 90);
  t.true(duplicates(result.values()) > 0);
});

test('two controllers over one range claiming in etcd: 90 clients at once, every one an address, no address twice', async (t) => {
  const { connect } = await localEtcd(t);
  const servers = [
    await controller(t, '198.18.0.1', new EtcdAddressClaims(await connect())),
    await controller(t, '198.18.0.2', new EtcdAddressClaims(await connect())),
  ];
  const result = await fleet(servers, 90);
  t.is(duplicates(result.values()), 0);
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
