import test from 'ava';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { Opcode, TftpDecodeError, decodePacket } from '../../src/tftp/packet.js';
import { TestClient, download, memoryHandler, startServer, until } from './helpers.js';

/** Datagrams that are not valid requests: random bytes, and near-misses built from real opcodes. */
const junk = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 600 }),
  fc.tuple(fc.constantFrom(Opcode.RRQ, Opcode.WRQ), fc.uint8Array({ maxLength: 80 })).map(([op, body]) => {
    // A request whose last byte is not NUL is always malformed (RFC 1350 §5).
    const b = Buffer.concat([Buffer.from([0, op]), body, Buffer.from([0x41])]);
    return new Uint8Array(b);
  }),
  fc.tuple(fc.constantFrom(Opcode.DATA, Opcode.ACK, Opcode.ERROR, Opcode.OACK, 0, 7, 0xffff), fc.uint8Array({ maxLength: 40 })).map(([op, body]) => {
    const b = Buffer.alloc(2 + body.length);
    b.writeUInt16BE(op, 0);
    b.set(body, 2);
    return new Uint8Array(b);
  }),
);

/** Sends in small bursts so the kernel's socket buffer never overflows (loss would skew counts). */
async function trickle(client: TestClient, samples: Uint8Array[], port: number): Promise<void> {
  for (let i = 0; i < samples.length; i++) {
    client.send(Buffer.from(samples[i] ?? []), port);
    if (i % 16 === 15) await new Promise((r) => setTimeout(r, 2));
  }
}

/** True when the server must not treat `bytes` as a request (so it must count it as malformed). */
function notARequest(bytes: Uint8Array): boolean {
  try {
    const p = decodePacket(Buffer.from(bytes));
    return p.op !== 'rrq' && p.op !== 'wrq';
  } catch (err) {
    if (!(err instanceof TftpDecodeError)) throw err;
    return true;
  }
}

test('decodePacket throws only TftpDecodeError, whatever the bytes', (t) => {
  fc.assert(
    fc.property(junk, (bytes) => {
      try {
        decodePacket(Buffer.from(bytes));
      } catch (err) {
        return err instanceof TftpDecodeError;
      }
      return true;
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

test('malformed datagrams are counted and dropped, and the server still serves a valid RRQ', async (t) => {
  const data = randomBytes(5000);
  const { port, server } = await startServer(t, memoryHandler({ ok: data }));
  const client = await TestClient.open(t);
  const samples = fc.sample(junk, { numRuns: 500, seed: 42 }).filter(notARequest);
  await trickle(client, samples, port);
  await until(() => server.stats.malformed === samples.length, 5000);
  t.is(server.stats.requests, 0);
  t.true((await download(client, port, 'ok', { blksize: '1468' })).data.equals(data));
});

test('junk sent to a transfer socket is counted and the transfer completes', async (t) => {
  const data = randomBytes(3000);
  const { port, server } = await startServer(t, memoryHandler({ ok: data }), { timeoutMs: 3000 });
  const client = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'ok', mode: 'octet', options: new Map() }, port);
  const d1 = await client.expect();
  // Undecodable or out-of-place packets from the right TID; ACKs and ERRORs are excluded since
  // those are meaningful to a transfer.
  const samples = fc.sample(junk, { numRuns: 300, seed: 7 }).filter((b) => {
    const op = b.length >= 2 ? (b[0]! << 8) | b[1]! : -1;
    return op !== Opcode.ACK && op !== Opcode.ERROR;
  });
  await trickle(client, samples, d1.from.port);
  await until(() => server.stats.malformed === samples.length, 5000);
  client.send({ op: 'ack', block: 1 }, d1.from.port);
  t.like((await client.expect()).packet, { op: 'data', block: 2 });
});
