import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLab, startServer, rawClient, clientPacket, typeOf, MessageType, Opt } from './lab.js';
import { decodeIp, decodeU32 } from '../../src/dhcp/options.js';

async function stateDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-dhcp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const FULL = { interface: 'br0', serverAddress: '198.18.0.1', subnetMask: '255.255.255.0', mode: 'full' as const, range: ['198.18.0.100', '198.18.0.150'] as [string, string], leaseSeconds: 600, router: '198.18.0.1', dns: ['198.18.0.1'] };

test('lab: a raw DISCOVER/REQUEST gets an OFFER and an ACK with the configured options', async (t) => {
  const lab = await makeLab(t);
  const server = await startServer(t, lab.server, { ...FULL, stateDir: await stateDir(t) });
  const mac = '52:54:00:01:02:03';
  const [offer] = await rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Discover, mac, { xid: 7 }) }], stopAfter: 1 });
  t.truthy(offer, 'an OFFER arrives');
  t.is(typeOf(offer!.packet), MessageType.Offer);
  t.is(offer!.packet.xid, 7);
  t.is(offer!.packet.yiaddr, '198.18.0.100');
  t.is(decodeIp(offer!.packet.options.get(Opt.ServerId)), '198.18.0.1');
  t.is(decodeIp(offer!.packet.options.get(Opt.SubnetMask)), '255.255.255.0');
  t.is(decodeU32(offer!.packet.options.get(Opt.LeaseTime)), 600);
  const [ack] = await rawClient(lab.client, {
    sends: [{ data: clientPacket(MessageType.Request, mac, { xid: 8, requested: '198.18.0.100', serverId: '198.18.0.1' }) }],
    stopAfter: 1,
  });
  t.is(typeOf(ack!.packet), MessageType.Ack);
  t.is(ack!.packet.yiaddr, '198.18.0.100');
  t.like(await server.waitForEvent((e) => e.type === 'ack'), { mac, ip: '198.18.0.100', xid: 8 });
  await server.stop();
});

test('lab: answers only on its interface: a DISCOVER from a second server interface gets nothing, br0 still works', async (t) => {
  const lab = await makeLab(t, { other: true });
  const server = await startServer(t, lab.server, { ...FULL, stateDir: await stateDir(t) });
  const before = await server.stats();
  const fromOther = await rawClient(lab.other!, { sends: [{ data: clientPacket(MessageType.Discover, '52:54:00:0e:0e:0e', { xid: 9 }) }], listenMs: 1500 });
  t.deepEqual(fromOther, [], 'no reply on vo0');
  t.is((await server.stats()).received, before.received, 'the packet never reached the server socket');
  const fromBr0 = await rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Discover, '52:54:00:0c:0c:0c', { xid: 10 }) }], stopAfter: 1 });
  t.is(typeOf(fromBr0[0]!.packet), MessageType.Offer);
  await server.stop();
});

test('lab: starting on an interface that does not exist fails with ERR_BIND_FAILED naming it', async (t) => {
  const lab = await makeLab(t);
  const err = await t.throwsAsync(startServer(t, lab.server, { ...FULL, interface: 'nosuch0', stateDir: await stateDir(t) }));
  t.regex(err?.message ?? '', /ERR_BIND_FAILED/);
  t.regex(err?.message ?? '', /interface nosuch0 does not exist/);
});

test('lab: REQUEST handling: NAK for a wrong subnet or a taken address, silence for another server', async (t) => {
  const lab = await makeLab(t);
  const server = await startServer(t, lab.server, { ...FULL, stateDir: await stateDir(t) });
  const a = '52:54:00:00:0a:0a';
  const b = '52:54:00:00:0b:0b';
  const req = (mac: string, xid: number, o: Parameters<typeof clientPacket>[2]) =>
    rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Request, mac, { xid, ...o }) }], listenMs: 800, stopAfter: 1 });
  t.is(typeOf((await req(a, 1, { requested: '198.18.0.100', serverId: '198.18.0.1' }))[0]!.packet), MessageType.Ack);
  t.is(typeOf((await req(b, 2, { requested: '198.18.0.100' }))[0]!.packet), MessageType.Nak, 'INIT-REBOOT for a taken address');
  t.is(typeOf((await req(b, 3, { requested: '198.19.5.5' }))[0]!.packet), MessageType.Nak, 'wrong subnet');
  t.deepEqual(await req(b, 4, { requested: '198.18.0.101', serverId: '198.18.0.9' }), [], 'another server\'s REQUEST is ignored');
  t.deepEqual(await req(b, 5, { requested: '198.18.0.20' }), [], 'an unknown client with an address outside our pool: silence');
  await server.stop();
});
