/** Mode handlers without sockets: what full and proxy mode answer to each message. */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleFull, type FullContext } from '../../src/dhcp/full.js';
import { handleProxy } from '../../src/dhcp/proxy.js';
import { LeasePool } from '../../src/dhcp/leases.js';
import { decodePacket } from '../../src/dhcp/packet.js';
import { requestInfo } from '../../src/dhcp/request-info.js';
import { replyDestination, type NetParams } from '../../src/dhcp/reply.js';
import { Opt, decodeU32, encodeString } from '../../src/dhcp/options.js';
import type { BootAnswer, DhcpRequestInfo } from '../../src/dhcp/types.js';
import { clientPacket, MessageType } from './lab.js';

const NET: NetParams = { serverAddress: '198.18.0.1', subnetMask: '255.255.255.0', prefix: 24, router: '198.18.0.1', dns: ['198.18.0.1'] };
const MAC = '52:54:00:12:34:56';

function info(buf: Buffer, port = 67, patch: (b: Buffer) => void = () => undefined): DhcpRequestInfo {
  patch(buf);
  const r = requestInfo(decodePacket(buf), port, { address: '0.0.0.0', port: 68 });
  if (!r) throw new Error('not a client message');
  return r;
}

async function full(t: ExecutionContext, boot: (r: DhcpRequestInfo) => BootAnswer | undefined = () => undefined): Promise<FullContext> {
  const stateDir = await mkdtemp(join(tmpdir(), 'bf-handlers-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const pool = await LeasePool.open({ range: ['198.18.0.100', '198.18.0.110'], leaseSeconds: 600, stateDir });
  return { net: NET, pool, leaseSeconds: 600, boot, now: Date.now };
}

test('commitOnOffer binds the lease at OFFER time (Pi 3B never sends REQUEST)', async (t) => {
  const ctx = await full(t, () => ({ commitOnOffer: true, file: 'bootcode.bin' }));
  const out = await handleFull(info(clientPacket(MessageType.Discover, MAC)), ctx);
  t.is(out.kind, 'reply');
  t.like(ctx.pool.leaseFor(MAC), { ip: '198.18.0.100', state: 'bound' });
  t.is(out.kind === 'reply' ? out.packet.file : '', 'bootcode.bin');
});

test('without commitOnOffer an OFFER only holds the address', async (t) => {
  const ctx = await full(t);
  await handleFull(info(clientPacket(MessageType.Discover, MAC)), ctx);
  t.like(ctx.pool.leaseFor(MAC), { ip: '198.18.0.100', state: 'offered' });
});

test('hook options override the server\'s and reach the reply even when not requested', async (t) => {
  const ctx = await full(t, () => ({ options: [[Opt.VendorClass, encodeString('PXEClient')], [Opt.DnsServers, Buffer.from([198, 18, 0, 53])]] }));
  const out = await handleFull(info(clientPacket(MessageType.Discover, MAC)), ctx);
  if (out.kind !== 'reply') return t.fail(out.kind);
  t.is(out.packet.options.get(Opt.VendorClass)?.toString(), 'PXEClient');
  t.deepEqual(out.packet.options.get(Opt.DnsServers), Buffer.from([198, 18, 0, 53]));
});

test('INFORM gets an ACK with configuration but no yiaddr and no lease time', async (t) => {
  const ctx = await full(t);
  const out = await handleFull(info(clientPacket(MessageType.Inform, MAC, { ciaddr: '198.18.0.9', broadcast: false })), ctx);
  if (out.kind !== 'reply') return t.fail(out.kind);
  t.is(out.type, 'ack');
  t.is(out.packet.yiaddr, '0.0.0.0');
  t.is(out.packet.ciaddr, '198.18.0.9');
  t.false(out.packet.options.has(Opt.LeaseTime));
  t.true(out.packet.options.has(Opt.SubnetMask));
});

test('a renewing REQUEST (ciaddr) is ACKed with the remaining lease time and unicast to ciaddr:68', async (t) => {
  const ctx = await full(t);
  ctx.pool.commit(MAC, '198.18.0.105');
  const req = info(clientPacket(MessageType.Request, MAC, { ciaddr: '198.18.0.105', broadcast: false }));
  const out = await handleFull(req, ctx);
  if (out.kind !== 'reply') return t.fail(out.kind);
  t.is(out.type, 'ack');
  t.true((decodeU32(out.packet.options.get(Opt.LeaseTime)) ?? 0) > 590);
  t.deepEqual(replyDestination(req, 'ack', NET), { address: '198.18.0.105', port: 68 });
});

test('relayed requests go to giaddr:67, but only from a relay on our subnet', (t) => {
  const inside = info(clientPacket(MessageType.Discover, MAC), 67, (b) => b.writeUInt32BE(0xc6120002, 24));
  t.deepEqual(replyDestination(inside, 'offer', NET), { address: '198.18.0.2', port: 67 });
  const outside = info(clientPacket(MessageType.Discover, MAC), 67, (b) => b.writeUInt32BE(0xc6130002, 24));
  t.true('drop' in replyDestination(outside, 'offer', NET));
});

test('proxy mode: hook returning undefined means silence even for a PXE client', (t) => {
  const req = info(clientPacket(MessageType.Discover, MAC, { vendorClass: 'PXEClient:Arch:00007' }));
  t.is(handleProxy(req, { net: NET, boot: () => undefined, proxyPort: 4011 }).kind, 'drop');
  const out = handleProxy(req, { net: NET, boot: () => ({ file: 'snponly.efi' }), proxyPort: 4011 });
  t.is(out.kind === 'reply' ? out.packet.file : '', 'snponly.efi');
});
