/** Racks behind DHCP relay agents: choosing the subnet by giaddr, leasing from its pool, where replies go. */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseSubnet } from '../../src/dhcp/subnets.js';
import { handleFull, type FullContext } from '../../src/dhcp/full.js';
import { LeasePool } from '../../src/dhcp/leases.js';
import { decodePacket } from '../../src/dhcp/packet.js';
import { requestInfo } from '../../src/dhcp/request-info.js';
import { replyDestination, type NetParams } from '../../src/dhcp/reply.js';
import { Opt, decodeIp } from '../../src/dhcp/options.js';
import type { AddressClaims, ClaimResult } from '../../src/dhcp/claims.js';
import type { DhcpRequestInfo } from '../../src/dhcp/types.js';
import { ipToInt } from '../../src/net/addr.js';
import { clientPacket, MessageType } from './lab.js';

const LOCAL = { network: '198.18.0.1', prefix: 24, name: 'local' };
const RACK1 = { network: '198.19.1.0', prefix: 24, name: 'rack1' };
const RACK2 = { network: '198.19.2.0', prefix: 25, name: 'rack2' };
const MAC = '52:54:00:bf:01:01';

const RACK_NET: NetParams = {
  serverAddress: '198.18.0.1', network: '198.19.1.0', subnetMask: '255.255.255.0', prefix: 24, router: '198.19.1.1', dns: ['198.18.0.53'],
};

function choose(giaddr: string, ciaddr = '0.0.0.0') {
  const c = chooseSubnet({ giaddr, ciaddr }, LOCAL, [RACK1, RACK2]);
  return c.kind === 'unknown' ? c.kind : `${c.kind}:${c.subnet.name}`;
}

test('giaddr picks the relayed subnet that contains it (RFC 2131 §4.3.1)', (t) => {
  t.is(choose('198.19.1.1'), 'relayed:rack1');
  t.is(choose('198.19.1.254'), 'relayed:rack1');
  t.is(choose('198.19.2.1'), 'relayed:rack2');
  t.is(choose('198.19.2.129'), 'unknown', 'outside rack2\'s /25');
});

test('no giaddr: the local link; a relay on the local link: the local pool', (t) => {
  t.is(choose('0.0.0.0'), 'local:local');
  t.is(choose('198.18.0.2'), 'local:local');
});

test('a giaddr of no configured subnet is unknown, and says which relay', (t) => {
  const c = chooseSubnet({ giaddr: '198.19.9.1', ciaddr: '0.0.0.0' }, LOCAL, [RACK1]);
  t.is(c.kind, 'unknown');
  t.regex(c.kind === 'unknown' ? c.reason : '', /198\.19\.9\.1.*dhcp\.relays/);
  t.is(chooseSubnet({ giaddr: '198.19.1.1', ciaddr: '0.0.0.0' }, LOCAL, []).kind, 'unknown', 'no relays configured: every foreign relay is unknown');
});

test('a renewal unicast straight from a relayed client (ciaddr, no giaddr) belongs to its subnet (RFC 2131 §4.3.2)', (t) => {
  t.is(choose('0.0.0.0', '198.19.1.150'), 'relayed:rack1');
  t.is(choose('0.0.0.0', '198.18.0.150'), 'local:local');
  t.is(choose('0.0.0.0', '198.19.7.7'), 'local:local', 'an address of no relayed subnet stays with the local link (the handler then NAKs it)');
});

function relayed(type: (typeof MessageType)[keyof typeof MessageType], giaddr: string, opts: Parameters<typeof clientPacket>[2] = {}): DhcpRequestInfo {
  const buf = clientPacket(type, MAC, opts);
  buf.writeUInt32BE(ipToInt(giaddr), 24);
  buf.writeUInt8(1, 3); // hops: one relay (RFC 1542 §4.1.1)
  const r = requestInfo(decodePacket(buf), 67, { address: giaddr, port: 67 });
  if (!r) throw new Error('not a client message');
  return r;
}

async function rackContext(t: ExecutionContext, claims?: AddressClaims): Promise<FullContext> {
  const stateDir = await mkdtemp(join(tmpdir(), 'bf-relay-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const pool = await LeasePool.open({ range: ['198.19.1.100', '198.19.1.109'], leaseSeconds: 600, stateDir, fileName: 'leases-198.19.1.0-24.json' });
  return { net: RACK_NET, pool, leaseSeconds: 600, boot: () => ({ siaddr: '198.18.0.1', file: 'undionly.kpxe' }), now: Date.now, ...(claims ? { claims } : {}) };
}

test('a relayed DISCOVER gets an address of the rack\'s range, its mask and router, and the controller as next-server', async (t) => {
  const ctx = await rackContext(t);
  const req = relayed(MessageType.Discover, '198.19.1.1');
  const out = await handleFull(req, ctx);
  if (out.kind !== 'reply') return t.fail(JSON.stringify(out));
  t.is(out.packet.yiaddr, '198.19.1.100');
  t.is(out.packet.giaddr, '198.19.1.1', 'giaddr is kept so the relay knows where to send it');
  t.is(out.packet.siaddr, '198.18.0.1');
  t.is(decodeIp(out.packet.options.get(Opt.Router)), '198.19.1.1');
  t.is(decodeIp(out.packet.options.get(Opt.SubnetMask)), '255.255.255.0');
  t.is(decodeIp(out.packet.options.get(Opt.ServerId)), '198.18.0.1', 'the server id is the controller, which the client can reach through its router');
  t.deepEqual(replyDestination(req, 'offer', RACK_NET), { address: '198.19.1.1', port: 67 }, 'unicast to the relay agent (RFC 2131 §4.1)');
});

test('a relayed REQUEST is ACKed in the rack\'s range and written to the rack pool\'s own file', async (t) => {
  const ctx = await rackContext(t);
  await handleFull(relayed(MessageType.Discover, '198.19.1.1'), ctx);
  const out = await handleFull(relayed(MessageType.Request, '198.19.1.1', { requested: '198.19.1.100', serverId: '198.18.0.1' }), ctx);
  if (out.kind !== 'reply') return t.fail(JSON.stringify(out));
  t.is(out.type, 'ack');
  t.is(out.packet.yiaddr, '198.19.1.100');
  await ctx.pool.saved();
  t.regex(await readFile(ctx.pool.stateFile, 'utf8'), /198\.19\.1\.100/);
  t.regex(ctx.pool.stateFile, /leases-198\.19\.1\.0-24\.json$/);
});

test('a relayed REQUEST for an address of another subnet is NAKed, broadcast by the relay (RFC 2131 §4.3.2)', async (t) => {
  const ctx = await rackContext(t);
  const out = await handleFull(relayed(MessageType.Request, '198.19.1.1', { requested: '198.18.0.150', serverId: '198.18.0.1' }), ctx);
  if (out.kind !== 'reply') return t.fail(JSON.stringify(out));
  t.is(out.type, 'nak');
  t.true((out.packet.flags & 0x8000) !== 0);
});

test('a renewal from a relayed client straight to the server is ACKed and unicast to its address', async (t) => {
  const ctx = await rackContext(t);
  ctx.pool.commit(MAC, '198.19.1.104');
  const buf = clientPacket(MessageType.Request, MAC, { ciaddr: '198.19.1.104', broadcast: false });
  const req = requestInfo(decodePacket(buf), 67, { address: '198.19.1.104', port: 68 });
  if (!req) return t.fail();
  const out = await handleFull(req, ctx);
  t.like(out, { kind: 'reply', type: 'ack' });
  t.deepEqual(replyDestination(req, 'ack', RACK_NET), { address: '198.19.1.104', port: 68 });
});

test('relayed offers are claimed in the shared store like local ones', async (t) => {
  const held = new Map<string, string>([['198.19.1.100', '52:54:00:00:00:99']]);
  const claims: AddressClaims = {
    claim: (ip, mac): Promise<ClaimResult> => {
      const holder = held.get(ip);
      if (holder !== undefined && holder !== mac) return Promise.resolve({ ok: false, mac: holder, until: Date.now() + 60_000 });
      held.set(ip, mac);
      return Promise.resolve({ ok: true });
    },
    release: (ip) => Promise.resolve(void held.delete(ip)),
  };
  const ctx = await rackContext(t, claims);
  const out = await handleFull(relayed(MessageType.Discover, '198.19.1.1'), ctx);
  if (out.kind !== 'reply') return t.fail(JSON.stringify(out));
  t.is(out.packet.yiaddr, '198.19.1.101', 'the address another controller holds is skipped');
  t.is(held.get('198.19.1.101'), MAC);
});

test('a reply to a relay of another subnet than the one chosen is refused', (t) => {
  const req = relayed(MessageType.Discover, '198.19.5.1');
  t.true('drop' in replyDestination(req, 'offer', RACK_NET));
});
