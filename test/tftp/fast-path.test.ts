/**
 * The native ACK→DATA fast path (native/tftp_fast.c): it is built and used, it sends exactly the
 * blocks JavaScript would, and everything outside the steady state still goes through JavaScript.
 * These fail (not skip) when the addon is not built.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { TftpFile } from '../../src/tftp/file.js';
import { TftpErrorCode, encodePacket } from '../../src/tftp/packet.js';
import { tftpNative } from '../../src/tftp/socket.js';
import { HOST, TestClient, download, memoryHandler, startServer, until, type Received } from './helpers.js';

/** Blocks of a file of `size` bytes: a multiple of blksize ends with an empty block. */
const blocksOf = (size: number, blksize: number): number => Math.floor(size / blksize) + 1;

/** The next DATA packet (failing on anything else). */
async function nextData(client: TestClient, ms = 2000): Promise<Received & { block: number; length: number }> {
  const r = await client.expect(ms);
  if (r.packet.op !== 'data') throw new Error(`expected DATA, got ${r.packet.op}`);
  return { ...r, block: r.packet.block, length: r.packet.data.length };
}

test('the addon is built with the TFTP functions and servers use it by default', async (t) => {
  t.truthy(tftpNative(), 'build/Release/bootfleet_net.node with tftpOpen: run npx node-gyp rebuild');
  const on = await startServer(t, memoryHandler({}));
  const off = await startServer(t, memoryHandler({}), { nativeFastPath: false });
  t.true(on.server.nativeFastPath);
  t.false(off.server.nativeFastPath);
});

test('lock-step: every block after the first is sent natively, and the bytes are right', async (t) => {
  const data = randomBytes(200_000);
  const { port, server } = await startServer(t, memoryHandler({ f: data }));
  const client = await TestClient.open(t);
  const r = await download(client, port, 'f', { blksize: '1468', tsize: '0' });
  t.true(r.data.equals(data));
  await until(() => server.stats.completed === 1);
  // JS sends the OACK and block 1 (after ACK 0) and handles the final ACK; C sends the rest.
  t.is(server.stats.nativeBlocks, blocksOf(data.length, 1468) - 1);
});

test('the JS path sends everything itself and gets the same bytes', async (t) => {
  const data = randomBytes(200_000);
  const { port, server } = await startServer(t, memoryHandler({ f: data }), { nativeFastPath: false });
  const client = await TestClient.open(t);
  t.true((await download(client, port, 'f', { blksize: '1468' })).data.equals(data));
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 0);
});

test('a lazily read file (not bufferFile) is served by JavaScript on the native socket', async (t) => {
  const data = randomBytes(50_000);
  const lazy: TftpFile = { size: data.length, read: async (offset, length) => data.subarray(offset, offset + length) };
  const { port, server } = await startServer(t, async () => lazy);
  const client = await TestClient.open(t);
  t.true((await download(client, port, 'x', { blksize: '1000' })).data.equals(data));
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 0);
});

test('windowsize: whole windows are sent natively after the first', async (t) => {
  const data = randomBytes(100_000);
  const { port, server } = await startServer(t, memoryHandler({ w: data }));
  const client = await TestClient.open(t);
  const r = await download(client, port, 'w', { blksize: '1024', windowsize: '8' });
  t.true(r.data.equals(data));
  t.deepEqual(r.blocks, Array.from({ length: blocksOf(data.length, 1024) }, (_, i) => i + 1));
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, blocksOf(data.length, 1024) - 8);
});

test('block numbers roll over from 65535 to 0 on the fast path (lock-step and windowed)', async (t) => {
  const data = randomBytes(65_540 * 8 + 5);
  const { port, server } = await startServer(t, memoryHandler({ big: data }));
  const lock = await download(await TestClient.open(t), port, 'big', { blksize: '8' });
  t.deepEqual(lock.blocks.slice(65_534, 65_537), [65_535, 0, 1]);
  t.true(lock.data.equals(data));
  const win = await download(await TestClient.open(t), port, 'big', { blksize: '8', windowsize: '7' });
  t.deepEqual(win.blocks.slice(65_534, 65_537), [65_535, 0, 1]);
  t.true(win.data.equals(data));
  await until(() => server.stats.completed === 2);
  const blocks = blocksOf(data.length, 8);
  t.is(server.stats.nativeBlocks, blocks - 1 + (blocks - 7));
});

test('a lost DATA is retransmitted by the JS timer and the fast path carries on after it', async (t) => {
  const data = randomBytes(512 * 6 + 100);
  const { port, server } = await startServer(t, memoryHandler({ f: data }), { timeoutMs: 100 });
  const client = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'f', mode: 'octet', options: new Map() }, port);
  const d1 = await nextData(client);
  const tid = d1.from.port;
  client.send({ op: 'ack', block: 1 }, tid);
  const d2 = await nextData(client); // sent natively; the client "loses" it and does not ACK
  t.is(d2.block, 2);
  const again = await nextData(client, 1000);
  t.is(again.block, 2, 'retransmitted after the timeout');
  const got = [d1, again];
  client.send({ op: 'ack', block: 2 }, tid);
  for (let b = 3; b <= 7; b++) {
    const d = await nextData(client);
    t.is(d.block, b);
    got.push(d);
    client.send({ op: 'ack', block: b }, tid);
  }
  t.true(Buffer.concat(got.map((d) => (d.packet.op === 'data' ? d.packet.data : Buffer.alloc(0)))).equals(data));
  await until(() => server.stats.completed === 1);
  // Natively: 2 (first time), 3, 4, 5, 6, 7. The retransmission of 2 was JavaScript's.
  t.is(server.stats.nativeBlocks, 6);
});

test('windowed loss: an ACK inside the window goes to JS, which resumes after it; C takes over again', async (t) => {
  const data = randomBytes(512 * 20);
  const { port, server } = await startServer(t, memoryHandler({ f: data }), { timeoutMs: 3000 });
  const client = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'f', mode: 'octet', options: new Map([['windowsize', '4']]) }, port);
  const oack = await client.expect();
  const tid = oack.from.port;
  client.send({ op: 'ack', block: 0 }, tid);
  const blocks = async (n: number): Promise<number[]> => {
    const out = [];
    for (let i = 0; i < n; i++) out.push((await nextData(client)).block);
    return out;
  };
  t.deepEqual(await blocks(4), [1, 2, 3, 4]); // JS, after ACK 0
  client.send({ op: 'ack', block: 4 }, tid);
  t.deepEqual(await blocks(4), [5, 6, 7, 8]); // C
  client.send({ op: 'ack', block: 6 }, tid); // "lost" 7 and 8: partial ACK, JS resumes after 6
  t.deepEqual(await blocks(4), [7, 8, 9, 10]);
  client.send({ op: 'ack', block: 10 }, tid);
  t.deepEqual(await blocks(4), [11, 12, 13, 14]); // C again
  client.send({ op: 'ack', block: 14 }, tid);
  t.deepEqual(await blocks(4), [15, 16, 17, 18]);
  client.send({ op: 'ack', block: 18 }, tid);
  t.deepEqual(await blocks(3), [19, 20, 21]); // 21 is the empty last block
  client.send({ op: 'ack', block: 21 }, tid);
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 4 + 4 + 4 + 3);
});

test('duplicate ACKs on the fast path are never answered (Sorcerer\'s Apprentice)', async (t) => {
  const { port, server } = await startServer(t, memoryHandler({ a: randomBytes(512 * 4) }), { timeoutMs: 3000 });
  const client = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
  const tid = (await nextData(client)).from.port;
  client.send({ op: 'ack', block: 1 }, tid);
  t.is((await nextData(client)).block, 2);
  client.send({ op: 'ack', block: 2 }, tid);
  t.is((await nextData(client)).block, 3);
  // Pi 4 style re-ACKs of every earlier block, and a stale one.
  for (const b of [2, 2, 1, 0]) client.send({ op: 'ack', block: b }, tid);
  t.is(await client.next(300), undefined, 'no packet after duplicate and stale ACKs');
  client.send({ op: 'ack', block: 3 }, tid);
  t.is((await nextData(client)).block, 4);
  client.send({ op: 'ack', block: 4 }, tid);
  t.is((await nextData(client)).length, 0);
  client.send({ op: 'ack', block: 5 }, tid);
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 4);
});

test('the in-order ACK from a wrong TID gets error 5 and is not taken by the fast path', async (t) => {
  const { port, server } = await startServer(t, memoryHandler({ a: randomBytes(512 * 3) }), { timeoutMs: 3000 });
  const client = await TestClient.open(t);
  const intruder = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
  const tid = (await nextData(client)).from.port;
  client.send({ op: 'ack', block: 1 }, tid);
  t.is((await nextData(client)).block, 2);
  intruder.send({ op: 'ack', block: 2 }, tid); // exactly what the fast path would act on
  const reply = await intruder.expect();
  t.like(reply.packet, { op: 'error', code: TftpErrorCode.UnknownTid });
  t.is(reply.from.port, tid);
  t.is(await client.next(200), undefined, 'the intruder did not advance the transfer');
  client.send({ op: 'ack', block: 2 }, tid);
  t.is((await nextData(client)).block, 3);
  client.send({ op: 'ack', block: 3 }, tid);
  t.is((await nextData(client)).length, 0);
  client.send({ op: 'ack', block: 4 }, tid);
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 3);
});

test('a padded ACK is left to JavaScript, which accepts it like the JS path does', async (t) => {
  const { port, server } = await startServer(t, memoryHandler({ a: randomBytes(512 * 2) }), { timeoutMs: 3000 });
  const client = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
  const tid = (await nextData(client)).from.port;
  client.send(Buffer.from([0, 4, 0, 1, 0, 0]), tid);
  t.is((await nextData(client)).block, 2);
  client.send({ op: 'ack', block: 2 }, tid);
  t.is((await nextData(client)).block, 3);
  client.send({ op: 'ack', block: 3 }, tid);
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 1, 'only block 3');
});

test('native sends hold off the JS retransmission timer (shared last-send time)', async (t) => {
  // ACKs every 150 ms with a 600 ms timeout: each DATA is sent natively, and the JS timer must see
  // those sends, or it would retransmit once the 8 blocks' 1.2 s outlast the timeout. The margin
  // (a block would need a 450 ms stall to be retransmitted legitimately) keeps a busy machine
  // from failing the test.
  const data = randomBytes(512 * 8);
  const { port, server } = await startServer(t, memoryHandler({ f: data }), { timeoutMs: 600 });
  const client = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'f', mode: 'octet', options: new Map() }, port);
  const seen: number[] = [];
  for (;;) {
    const d = await nextData(client);
    seen.push(d.block);
    await new Promise((r) => setTimeout(r, 150));
    client.send({ op: 'ack', block: d.block }, d.from.port);
    if (d.length < 512) break;
  }
  t.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9], 'no retransmissions');
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 8);
});

test('progress made natively refills the retry budget', async (t) => {
  // retries: 1 allows one retransmission without progress. Two losses separated by natively
  // acknowledged blocks must both be survived.
  const data = randomBytes(512 * 6);
  const { port, server } = await startServer(t, memoryHandler({ f: data }), { timeoutMs: 80, retries: 1 });
  const client = await TestClient.open(t);
  client.send({ op: 'rrq', filename: 'f', mode: 'octet', options: new Map() }, port);
  let d = await nextData(client);
  const tid = d.from.port;
  const lose = new Set([2, 5]);
  const seen: number[] = [];
  for (;;) {
    seen.push(d.block);
    if (lose.delete(d.block)) {
      d = await nextData(client, 1000); // the retransmission
      continue;
    }
    client.send({ op: 'ack', block: d.block }, tid);
    if (d.length < 512) break;
    d = await nextData(client);
  }
  t.deepEqual(seen, [1, 2, 2, 3, 4, 5, 5, 6, 7]);
  await until(() => server.stats.completed === 1);
  t.like(server.stats, { completed: 1, errors: 0 });
});

test('an ICMP error from the client side (port closed for a moment) does not stop the fast path', async (t) => {
  // The native DATA goes out of a socket connect()ed to the client, which turns an ICMP "port
  // unreachable" into a socket error; polling must go on once the client is back.
  const data = randomBytes(512 * 5);
  const { port, server } = await startServer(t, memoryHandler({ f: data }), { timeoutMs: 150 });
  let client = await TestClient.open(t);
  const clientPort = client.port;
  client.send({ op: 'rrq', filename: 'f', mode: 'octet', options: new Map() }, port);
  const tid = (await nextData(client)).from.port;
  // Close the client's port as soon as ACK 1 is out (server and client share this event loop, so
  // the server reads the ACK after that): block 2, sent natively, meets a closed port.
  await new Promise<void>((resolve) => client.socket.send(encodePacket({ op: 'ack', block: 1 }), tid, HOST, () => client.socket.close(() => resolve())));
  await new Promise((r) => setTimeout(r, 50));
  client = await TestClient.open(t, clientPort);
  const again = await nextData(client, 1000); // the JS timer's retransmission
  t.is(again.block, 2);
  for (let b = 2; b <= 5; b++) {
    client.send({ op: 'ack', block: b }, tid);
    t.is((await nextData(client)).block, b + 1);
  }
  client.send({ op: 'ack', block: 6 }, tid);
  await until(() => server.stats.completed === 1);
  t.is(server.stats.nativeBlocks, 5, '2 (lost), 3, 4, 5, 6');
});
