import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { TftpCache } from '../../src/tftp/cache.js';
import { TftpErrorCode } from '../../src/tftp/packet.js';
import { TftpAccessDenied, type TftpHandler, type TftpServerOptions } from '../../src/tftp/types.js';
import { TestClient, download, memoryHandler, startServer, until } from './helpers.js';

const file1k5 = randomBytes(1500);
const rrq = (filename: string, options: Record<string, string> = {}) => ({ op: 'rrq', filename, mode: 'octet', options: new Map(Object.entries(options)) }) as const;

/** Opens a transfer of `filename` for each client and leaves it waiting for its first ACK; returns each transfer's TID. */
async function hold(clients: TestClient[], port: number, filename: string): Promise<number[]> {
  const tids: number[] = [];
  for (const c of clients) {
    c.send(rrq(filename), port);
    const first = await c.expect();
    if (first.packet.op !== 'data') throw new Error(`expected DATA, got ${first.packet.op}`);
    tids.push(first.from.port);
  }
  return tids;
}

/**
 * Every protocol test runs twice: with the native ACK→DATA fast path (the default when the addon
 * is built; test/tftp/fast-path.test.ts proves it is used) and on the pure-JS fallback.
 */
const MODES: Array<{ suffix: string; opts: Partial<TftpServerOptions> }> = [
  { suffix: '', opts: {} },
  { suffix: ' [JS path]', opts: { nativeFastPath: false } },
];

for (const { suffix, opts: modeOpts } of MODES) {
  const serve = (t: ExecutionContext, handler: TftpHandler, opts: Partial<TftpServerOptions> = {}): ReturnType<typeof startServer> =>
    startServer(t, handler, { ...modeOpts, ...opts });

  test(`an RRQ without options gets 512-byte blocks and no OACK${suffix}`, async (t) => {
    const { port, server, events } = await serve(t, memoryHandler({ 'a.bin': file1k5 }));
    const client = await TestClient.open(t);
    const r = await download(client, port, 'a.bin');
    t.is(r.oack, undefined);
    t.deepEqual(r.blocks, [1, 2, 3]);
    t.deepEqual(r.data, file1k5);
    await until(() => server.stats.completed === 1);
    t.like(server.stats, { requests: 1, completed: 1, errors: 0, malformed: 0 });
    t.deepEqual(events.map((e) => e.type), ['rrq', 'complete']);
    t.like(events[1], { path: 'a.bin', bytes: 1500, client: { address: '127.0.0.1', port: client.port } });
  });

  test(`blksize, tsize and windowsize are acknowledged in an OACK and used${suffix}`, async (t) => {
    const data = randomBytes(100_000);
    const { port } = await serve(t, memoryHandler({ k: data }));
    const client = await TestClient.open(t);
    const r = await download(client, port, 'k', { blksize: '1024', tsize: '0', windowsize: '8', unknown: '1' });
    t.deepEqual(r.oack, new Map([['blksize', '1024'], ['tsize', '100000'], ['windowsize', '8']]));
    t.is(r.blocks.length, Math.floor(100_000 / 1024) + 1);
    t.deepEqual(r.data, data);
  });

  test(`a file that is an exact multiple of blksize ends with an empty block${suffix}`, async (t) => {
    const data = randomBytes(1024);
    const { port } = await serve(t, memoryHandler({ m: data }));
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'm', mode: 'octet', options: new Map() }, port);
    const sizes: number[] = [];
    for (let block = 1; ; block++) {
      const r = await client.expect();
      t.is(r.packet.op, 'data');
      if (r.packet.op !== 'data') return;
      sizes.push(r.packet.data.length);
      client.send({ op: 'ack', block }, r.from.port);
      if (r.packet.data.length < 512) break;
    }
    t.deepEqual(sizes, [512, 512, 0]);
  });

  test(`an empty file is one empty DATA block${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({ e: Buffer.alloc(0) }));
    const client = await TestClient.open(t);
    const r = await download(client, port, 'e', { tsize: '0' });
    t.is(r.oack?.get('tsize'), '0');
    t.deepEqual(r.blocks, [1]);
    t.is(r.data.length, 0);
  });

  test(`block numbers roll over from 65535 to 0${suffix}`, async (t) => {
    // blksize 8 makes 65,550 blocks out of half a megabyte; windowsize keeps the test quick.
    const data = randomBytes(65_550 * 8 - 3);
    const { port } = await serve(t, memoryHandler({ big: data }));
    const client = await TestClient.open(t);
    const r = await download(client, port, 'big', { blksize: '8', windowsize: '32' });
    t.is(r.blocks.length, 65_550);
    t.deepEqual(r.blocks.slice(65_533, 65_538), [65_534, 65_535, 0, 1, 2]);
    t.true(r.data.equals(data));
  });

  test(`block numbers roll over in lock-step too${suffix}`, async (t) => {
    const data = randomBytes(65_540 * 8);
    const { port } = await serve(t, memoryHandler({ big: data }));
    const client = await TestClient.open(t);
    const r = await download(client, port, 'big', { blksize: '8' });
    t.deepEqual(r.blocks.slice(65_534, 65_537), [65_535, 0, 1]);
    t.true(r.data.equals(data));
  });

  test(`a duplicate ACK does not cause a resend (Sorcerer's Apprentice; Pi 4 re-ACKs)${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({ a: file1k5 }), { timeoutMs: 3000 });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
    const d1 = await client.expect();
    client.send({ op: 'ack', block: 1 }, d1.from.port);
    const d2 = await client.expect();
    t.like(d2.packet, { op: 'data', block: 2 });
    client.send({ op: 'ack', block: 1 }, d1.from.port);
    client.send({ op: 'ack', block: 1 }, d1.from.port);
    t.is(await client.next(400), undefined, 'no packet after duplicate ACKs');
    client.send({ op: 'ack', block: 2 }, d1.from.port);
    t.like((await client.expect()).packet, { op: 'data', block: 3 });
  });

  test(`an unacknowledged block is retransmitted on timeout, then the transfer gives up${suffix}`, async (t) => {
    const { port, server, events } = await serve(t, memoryHandler({ a: file1k5 }), { timeoutMs: 100, retries: 2 });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
    const sent = [await client.expect(), await client.expect(), await client.expect()];
    t.true(sent.every((r) => r.packet.op === 'data' && r.packet.block === 1));
    t.is(await client.next(400), undefined, 'gave up after 2 retries');
    await until(() => server.stats.errors === 1);
    t.like(events.at(-1), { type: 'error', reason: 'timeout' });
  });

  test(`an unacknowledged OACK is retransmitted${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({ a: file1k5 }), { timeoutMs: 100 });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map([['tsize', '0']]) }, port);
    t.is((await client.expect()).packet.op, 'oack');
    t.is((await client.expect()).packet.op, 'oack');
  });

  test(`a client ERROR ends the transfer quietly (Pi "Early terminate" probes)${suffix}`, async (t) => {
    const { port, server, events } = await serve(t, memoryHandler({ a: file1k5 }), { timeoutMs: 100 });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
    const d1 = await client.expect();
    client.send({ op: 'error', code: 0, message: 'Early terminate' }, d1.from.port);
    // On a loaded machine the 100 ms timer may fire before the ERROR is read: only what is sent
    // after the server has seen the abort counts.
    await until(() => server.stats.aborted === 1);
    while ((await client.next(50)) !== undefined);
    t.is(await client.next(400), undefined, 'no retransmission after the abort');
    t.like(server.stats, { aborted: 1, errors: 0, completed: 0 });
    t.like(events.at(-1), { type: 'error', reason: 'client-abort', message: '0 Early terminate' });
  });

  test(`a WRQ is refused with access violation${suffix}`, async (t) => {
    const { port, server } = await serve(t, memoryHandler({}));
    const client = await TestClient.open(t);
    client.send({ op: 'wrq', filename: 'up.bin', mode: 'octet', options: new Map() }, port);
    t.like((await client.expect()).packet, { op: 'error', code: TftpErrorCode.AccessViolation });
    t.like(server.stats, { requests: 1, errors: 1 });
  });

  // The Pi 3 ROM probes bootsig.bin and waits for the answer: it must come for the one RRQ sent,
  // not after a retransmission (a timing bar belongs in a benchmark, not here).
  test(`a missing file is answered with error 1 to its first RRQ${suffix}`, async (t) => {
    const { port, events } = await serve(t, memoryHandler({}));
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'bootsig.bin', mode: 'octet', options: new Map() }, port);
    t.like((await client.expect()).packet, { op: 'error', code: TftpErrorCode.FileNotFound });
    t.like(events.at(-1), { type: 'error', reason: 'not-found', path: 'bootsig.bin' });
    t.is(events.filter((e) => e.type === 'rrq').length, 1, 'one request, one answer');
  });

  test(`a handler throwing TftpAccessDenied gives error 2, any other throw error 0${suffix}`, async (t) => {
    const { port } = await serve(t, async (path) => {
      throw path === 'deny' ? new TftpAccessDenied('no') : new Error('boom');
    });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'deny', mode: 'octet', options: new Map() }, port);
    t.like((await client.expect()).packet, { op: 'error', code: TftpErrorCode.AccessViolation });
    client.send({ op: 'rrq', filename: 'other', mode: 'octet', options: new Map() }, port);
    t.like((await client.expect()).packet, { op: 'error', code: TftpErrorCode.NotDefined });
  });

  test(`the handler gets the path as sent and the client address${suffix}`, async (t) => {
    const seen: unknown[] = [];
    const { port } = await serve(t, async (path, client) => {
      seen.push({ path, client });
      return undefined;
    });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: '9ffefdef/start4.elf', mode: 'octet', options: new Map() }, port);
    await client.expect();
    t.deepEqual(seen, [{ path: '9ffefdef/start4.elf', client: { address: '127.0.0.1', port: client.port } }]);
  });

  test(`a packet from a wrong TID gets error 5 and does not disturb the transfer${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({ a: file1k5 }), { timeoutMs: 3000 });
    const client = await TestClient.open(t);
    const intruder = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
    const d1 = await client.expect();
    intruder.send({ op: 'ack', block: 1 }, d1.from.port);
    const reply = await intruder.expect();
    t.like(reply.packet, { op: 'error', code: TftpErrorCode.UnknownTid });
    t.is(reply.from.port, d1.from.port, 'error 5 comes from the transfer TID');
    t.is(await client.next(200), undefined, 'the intruder ACK did not advance the transfer');
    client.send({ op: 'ack', block: 1 }, d1.from.port);
    t.like((await client.expect()).packet, { op: 'data', block: 2 });
  });

  test(`an ACK inside the window makes the server resume after it (RFC 7440)${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({ a: randomBytes(512 * 10) }), { timeoutMs: 3000 });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map([['windowsize', '4']]) }, port);
    const oack = await client.expect();
    client.send({ op: 'ack', block: 0 }, oack.from.port);
    const first = [];
    for (let i = 0; i < 4; i++) first.push((await client.expect()).packet);
    t.deepEqual(first.map((p) => (p.op === 'data' ? p.block : -1)), [1, 2, 3, 4]);
    client.send({ op: 'ack', block: 2 }, oack.from.port); // "lost" 3 and 4
    const next = [];
    for (let i = 0; i < 4; i++) next.push((await client.expect()).packet);
    t.deepEqual(next.map((p) => (p.op === 'data' ? p.block : -1)), [3, 4, 5, 6]);
  });

  test(`netascii converts line ends and tsize reports the converted size${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({ 'config.txt': Buffer.from('a\nb\rc') }));
    const client = await TestClient.open(t);
    const r = await download(client, port, 'config.txt', { tsize: '0' }, 'netascii');
    t.deepEqual(r.data, Buffer.from('a\r\nb\r\0c'));
    t.is(r.oack?.get('tsize'), '7');
  });

  test(`a retransmitted RRQ does not start a second transfer${suffix}`, async (t) => {
    const { port, server } = await serve(t, memoryHandler({ a: file1k5 }), { timeoutMs: 3000 });
    const client = await TestClient.open(t);
    const rrq = { op: 'rrq', filename: 'a', mode: 'octet', options: new Map() } as const;
    client.send(rrq, port);
    client.send(rrq, port);
    t.like((await client.expect()).packet, { op: 'data', block: 1 });
    t.is(await client.next(300), undefined);
    t.is(server.stats.requests, 1);
  });

  test(`stop() ends running transfers and frees the port${suffix}`, async (t) => {
    const { port, server } = await serve(t, memoryHandler({ a: file1k5 }), { timeoutMs: 100 });
    const client = await TestClient.open(t);
    client.send({ op: 'rrq', filename: 'a', mode: 'octet', options: new Map() }, port);
    await client.expect();
    await server.stop();
    await client.next(300); // drain a possible retransmission racing the stop
    t.is(await client.next(300), undefined, 'no retransmissions after stop');
    await server.stop();
    const again = await serve(t, memoryHandler({}), { port });
    t.is(again.port, port);
  });

  test(`a request beyond maxTransfers gets error 0 "Server busy" at once and is served once a slot frees${suffix}`, async (t) => {
    const { port, server, events } = await serve(t, memoryHandler({ a: file1k5 }), { maxTransfers: 2, timeoutMs: 3000 });
    const holders = [await TestClient.open(t), await TestClient.open(t, 0, '127.0.0.2')];
    const tids = await hold(holders, port, 'a');
    const late = await TestClient.open(t, 0, '127.0.0.3');
    late.send(rrq('a'), port);
    const refused = await late.expect();
    t.like(refused.packet, { op: 'error', code: TftpErrorCode.NotDefined, message: 'Server busy: too many transfers' });
    t.is(refused.from.port, port, 'answered from the listening port: no transfer socket was opened for it');
    t.like(server.stats, { requests: 3, refused: 1, errors: 0 });
    t.like(events.at(-1), { type: 'error', reason: 'busy', path: 'a', client: { address: '127.0.0.3' } });
    t.is(server.activeTransfers, 2);
    holders[0]?.send({ op: 'error', code: 0, message: 'Early terminate' }, tids[0] ?? 0);
    await until(() => server.activeTransfers === 1);
    t.true((await download(late, port, 'a')).data.equals(file1k5), 'the refused client is served when it asks again');
    await until(() => server.stats.completed === 1);
    t.like(server.stats, { requests: 4, refused: 1, aborted: 1, completed: 1 });
  });

  test(`a client beyond maxTransfersPerClient is refused while another client is served${suffix}`, async (t) => {
    const { port, server } = await serve(t, memoryHandler({ a: file1k5 }), { maxTransfersPerClient: 2, timeoutMs: 3000 });
    const greedy = [await TestClient.open(t), await TestClient.open(t), await TestClient.open(t)];
    await hold(greedy.slice(0, 2), port, 'a');
    greedy[2]?.send(rrq('a'), port);
    t.like((await greedy[2]?.expect())?.packet, { op: 'error', code: TftpErrorCode.NotDefined, message: 'Server busy: too many transfers from your address' });
    const other = await TestClient.open(t, 0, '127.0.0.2');
    t.true((await download(other, port, 'a')).data.equals(file1k5));
    await until(() => server.stats.completed === 1);
    t.like(server.stats, { requests: 4, refused: 1, completed: 1 });
    t.is(server.activeTransfers, 2, "the greedy client's two transfers still run");
  });

  test(`a timeout option above maxTimeoutSeconds is left out of the OACK and the server's timeout applies${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({ a: file1k5 }), { maxTimeoutSeconds: 10, timeoutMs: 100 });
    const client = await TestClient.open(t);
    client.send(rrq('a', { timeout: '255', tsize: '0' }), port);
    const oack = await client.expect();
    t.like(oack.packet, { op: 'oack', options: new Map([['tsize', '1500']]) });
    // Not ACKed: it comes again after the server's 100 ms, not after the 255 s asked for.
    t.like((await client.expect()).packet, { op: 'oack' });
    const ok = await TestClient.open(t);
    t.deepEqual((await download(ok, port, 'a', { timeout: '10' })).oack, new Map([['timeout', '10']]), 'a timeout up to the cap is echoed');
  });

  test(`the netascii form of a file with an id is converted once and served from the cache${suffix}`, async (t) => {
    const text = Buffer.from('line1\nline2\r\n');
    let reads = 0;
    const handler: TftpHandler = async () => ({
      size: text.length,
      id: 'config.txt@1',
      read: (offset, length) => {
        reads++;
        return text.subarray(offset, offset + length);
      },
    });
    const cache = new TftpCache(1 << 20);
    const { port } = await serve(t, handler, { cache });
    const client = await TestClient.open(t);
    const want = Buffer.from('line1\r\nline2\r\0\r\n');
    t.deepEqual((await download(client, port, 'config.txt', {}, 'netascii')).data, want);
    t.deepEqual((await download(client, port, 'config.txt', {}, 'netascii')).data, want);
    t.is(reads, 1, 'the second request did not read or convert the file again');
    t.is(cache.bytes, want.length, 'the converted bytes count against the shared budget');
  });

  test(`start() fails with ERR_BIND_FAILED when the port is taken${suffix}`, async (t) => {
    const { port } = await serve(t, memoryHandler({}));
    const second = await serve(t, memoryHandler({}), { port }).catch((err: unknown) => err);
    t.like(second, { code: 'ERR_BIND_FAILED' });
  });
}
