/**
 * The DhcpServer behind a relay agent, on real sockets in namespaces: the client namespace plays
 * the relay (198.18.0.2 on the server's LAN, 198.19.1.1 its "rack" address, listening on port 67
 * as a relay does) and sends relayed messages; the server routes 198.19.0.0/16 through it.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLab, startServer, rawClient, clientPacket, typeOf, MessageType, Opt } from './lab.js';
import { decodeIp } from '../../src/dhcp/options.js';
import { ipToInt } from '../../src/net/addr.js';
import type { NetNamespace } from '../../src/lab/netns.js';

const SERVER = '198.18.0.1';
const MAC = '52:54:00:bf:01:02';

async function stateDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-dhcp-relay-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A client message as relay agent `giaddr` forwards it (RFC 1542 §4.1.1: giaddr set, hops 1). */
function relayed(type: Parameters<typeof clientPacket>[0], giaddr: string, opts: Parameters<typeof clientPacket>[2] = {}): Buffer {
  const buf = clientPacket(type, MAC, opts);
  buf.writeUInt32BE(ipToInt(giaddr), 24);
  buf.writeUInt8(1, 3);
  return buf;
}

/** Sends as the relay: from port 67 of the client namespace to the server's address. */
function asRelay(relay: NetNamespace, data: Buffer, listenMs = 3000) {
  return rawClient(relay, { bindPort: 67, sends: [{ to: SERVER, port: 67, data }], stopAfter: 1, listenMs });
}

test('lab: a relayed DISCOVER and REQUEST are answered to giaddr:67 from the relayed subnet\'s pool; an unknown relay gets nothing', async (t) => {
  const lab = await makeLab(t);
  await lab.client.ip(['addr', 'add', '198.18.0.2/24', 'dev', 'eth0']);
  await lab.client.ip(['addr', 'add', '198.19.1.1/24', 'dev', 'eth0']);
  // Also the address of a relay whose subnet the server does not know: a reply would arrive here.
  await lab.client.ip(['addr', 'add', '198.19.9.1/24', 'dev', 'eth0']);
  await lab.server.ip(['route', 'add', '198.19.0.0/16', 'via', '198.18.0.2']);
  const server = await startServer(t, lab.server, {
    interface: 'br0', serverAddress: SERVER, subnetMask: '255.255.255.0', mode: 'full', range: ['198.18.0.100', '198.18.0.150'],
    leaseSeconds: 600, router: SERVER, dns: [SERVER], stateDir: await stateDir(t),
    relays: [{ network: '198.19.1.0', prefix: 24, range: ['198.19.1.100', '198.19.1.150'], router: '198.19.1.1', dns: ['198.18.0.53'] }],
  });

  const [offer] = await asRelay(lab.client, relayed(MessageType.Discover, '198.19.1.1', { xid: 21 }));
  if (!offer) return t.fail('no OFFER reached the relay');
  t.is(typeOf(offer.packet), MessageType.Offer);
  t.is(offer.from, SERVER);
  t.is(offer.port, 67, 'server to relay agent: port 67 (RFC 2131 §4.1)');
  t.is(offer.packet.yiaddr, '198.19.1.100');
  t.is(offer.packet.giaddr, '198.19.1.1');
  t.is(decodeIp(offer.packet.options.get(Opt.Router)), '198.19.1.1');
  t.is(decodeIp(offer.packet.options.get(Opt.ServerId)), SERVER);

  const [ack] = await asRelay(lab.client, relayed(MessageType.Request, '198.19.1.1', { xid: 22, requested: '198.19.1.100', serverId: SERVER }));
  t.is(ack && typeOf(ack.packet), MessageType.Ack);
  t.is(ack?.packet.yiaddr, '198.19.1.100');
  t.like(await server.waitForEvent((e) => e.type === 'ack'), { mac: MAC, ip: '198.19.1.100' });

  const before = (await server.stats()).dropped;
  const unknown = await asRelay(lab.client, relayed(MessageType.Discover, '198.19.9.1', { xid: 23 }), 1500);
  t.deepEqual(unknown, [], 'no answer for a relay of an unconfigured subnet');
  t.is((await server.stats()).dropped, before + 1, 'counted as dropped');
  await server.stop();
});
