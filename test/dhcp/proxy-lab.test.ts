import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLab, startServer, rawClient, clientPacket, typeOf, MessageType, Opt } from './lab.js';
import { decodeIp } from '../../src/dhcp/options.js';

const PXE = 'PXEClient:Arch:00000:UNDI:002001';

async function proxyLab(t: ExecutionContext) {
  const lab = await makeLab(t);
  const dir = await mkdtemp(join(tmpdir(), 'bf-proxy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const server = await startServer(t, lab.server, {
    interface: 'br0', serverAddress: '198.18.0.1', subnetMask: '255.255.255.0', mode: 'proxy', leaseSeconds: 600, stateDir: dir, bootFile: 'undionly.kpxe',
  });
  return { lab, server };
}

test('lab: proxy mode offers boot info without an address to a PXE DISCOVER', async (t) => {
  const { lab, server } = await proxyLab(t);
  const [offer] = await rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Discover, '52:54:00:50:50:50', { xid: 21, vendorClass: PXE }) }], stopAfter: 1 });
  t.truthy(offer);
  t.is(typeOf(offer!.packet), MessageType.Offer);
  t.is(offer!.packet.yiaddr, '0.0.0.0');
  t.is(offer!.packet.file, 'undionly.kpxe');
  t.is(offer!.packet.siaddr, '198.18.0.1');
  t.is(offer!.packet.options.get(Opt.VendorClass)?.toString(), 'PXEClient');
  t.is(decodeIp(offer!.packet.options.get(Opt.ServerId)), '198.18.0.1');
  t.false(offer!.packet.options.has(Opt.LeaseTime), 'no lease in a proxy offer');
  await server.stop();
});

test('lab: proxy mode ignores a non-PXE DISCOVER and a REQUEST meant for the real DHCP server', async (t) => {
  const { lab, server } = await proxyLab(t);
  const replies = await rawClient(lab.client, {
    sends: [
      { data: clientPacket(MessageType.Discover, '52:54:00:51:51:51', { xid: 22 }) },
      { data: clientPacket(MessageType.Request, '52:54:00:50:50:50', { xid: 23, vendorClass: PXE, requested: '198.18.0.77', serverId: '198.18.0.254' }) },
    ],
    listenMs: 1500,
  });
  t.deepEqual(replies, []);
  t.is((await server.stats()).dropped, 2);
  await server.stop();
});

test('lab: proxy mode ACKs a REQUEST on port 4011 back to the client\'s address and port', async (t) => {
  const { lab, server } = await proxyLab(t);
  // The client already has an address from the "real" DHCP server.
  await lab.client.ip(['addr', 'add', '198.18.0.77/24', 'dev', 'eth0']);
  const [ack] = await rawClient(lab.client, {
    bindPort: 68,
    sends: [{ to: '198.18.0.1', port: 4011, data: clientPacket(MessageType.Request, '52:54:00:50:50:50', { xid: 24, vendorClass: PXE, ciaddr: '198.18.0.77', broadcast: false }) }],
    stopAfter: 1,
  });
  t.truthy(ack, 'an ACK arrives');
  t.is(ack!.port, 4011, 'from the PXE boot-server port');
  t.is(typeOf(ack!.packet), MessageType.Ack);
  t.is(ack!.packet.yiaddr, '0.0.0.0');
  t.is(ack!.packet.file, 'undionly.kpxe');
  t.like(await server.waitForEvent((e) => e.type === 'ack'), { mac: '52:54:00:50:50:50', xid: 24 });
  await server.stop();
});
