import test from 'ava';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLab, startServer, rawClient, clientPacket, typeOf, MessageType } from './lab.js';
import { decodePacket, DhcpDecodeError } from '../../src/dhcp/packet.js';

function isMalformed(b: Buffer): boolean {
  try {
    decodePacket(b);
    return false;
  } catch (err) {
    return err instanceof DhcpDecodeError;
  }
}

test('lab: a burst of generated malformed packets is counted and dropped; the server still answers afterwards', async (t) => {
  const lab = await makeLab(t);
  const dir = await mkdtemp(join(tmpdir(), 'bf-fuzz-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const server = await startServer(t, lab.server, {
    interface: 'br0', serverAddress: '198.18.0.1', subnetMask: '255.255.255.0', mode: 'full',
    range: ['198.18.0.100', '198.18.0.150'], leaseSeconds: 600, stateDir: dir,
  });
  const valid = clientPacket(MessageType.Discover, '52:54:00:f0:f0:f0', { xid: 99, vendorClass: 'PXEClient:Arch:00007' });
  const bad = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 700 }).map((a) => Buffer.from(a)),
    fc.integer({ min: 1, max: 239 }).map((n) => valid.subarray(0, n)),
    fc.tuple(fc.integer({ min: 0, max: 239 }), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, junk]) => {
      const b = Buffer.from(valid);
      Buffer.from(junk).copy(b, at);
      b[236] = 0x64; // and a wrong magic cookie
      return b;
    }),
    fc.integer({ min: 241, max: 290 }).map((n) => Buffer.concat([valid.subarray(0, n), Buffer.from([60, 200])])),
  );
  const packets = fc.sample(bad, { numRuns: 200, seed: 42 }).filter(isMalformed);
  t.true(packets.length > 150, `enough malformed packets generated (${packets.length})`);

  await rawClient(lab.client, { sends: packets.map((data) => ({ data })), listenMs: 200 });
  const deadline = Date.now() + 5000;
  while ((await server.stats()).malformed < packets.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const stats = await server.stats();
  t.is(stats.malformed, packets.length, 'every malformed packet counted');
  t.is(stats.replied, 0);
  t.is(server.proc.exitCode, null, 'server still running');

  const [offer] = await rawClient(lab.client, { sends: [{ data: valid }], stopAfter: 1 });
  t.is(typeOf(offer!.packet), MessageType.Offer, 'a valid DISCOVER is still answered');
  t.is(offer!.packet.xid, 99);
  await server.stop();
});
