import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { DEFAULT_MAX_TRANSFERS_PER_CLIENT } from '../../src/tftp/limits.js';
import { Opcode, TftpErrorCode } from '../../src/tftp/packet.js';
import type { TftpServerOptions } from '../../src/tftp/types.js';
import { TestClient, download, memoryHandler, startServer, until, type Received } from './helpers.js';

/**
 * A flood against the TFTP server on loopback, with the default caps: 500 RRQs from 500 sockets
 * on 4 addresses (127.0.0.21-24; Linux answers all of 127/8 on lo) that never ACK, plus junk,
 * while 3 well-behaved clients (127.0.0.11-13) each fetch a 6 MiB kernel at blksize 1468, held
 * mid-file until the flood has been answered, and each fetch a small file during the flood.
 * What it checks is completion and accounting, never speed.
 */
const KERNEL = randomBytes(6 * 1024 * 1024);
const CONFIG = Buffer.from('arm_64bit=1\nkernel=kernel8.img\ninitramfs initramfs8 followkernel\n');
const GOOD = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const FLOOD = ['127.0.0.21', '127.0.0.22', '127.0.0.23', '127.0.0.24'];
const PER_ADDRESS = 125;
const JUNK = 200;
/** Server timeouts only bound hangs: a flood transfer keeps its slot until the test aborts it. */
const HOLD: Partial<TftpServerOptions> = { timeoutMs: 1000, retries: 30 };
/** A generous bound for any one reply on a machine shared with other jobs (a hang, not a speed limit). */
const REPLY_MS = 20_000;

const MODES: Array<{ suffix: string; opts: Partial<TftpServerOptions> }> = [
  { suffix: '', opts: {} },
  { suffix: ' [JS path]', opts: { nativeFastPath: false } },
];

/** A promise and the function that resolves it. */
function signal(): { done: Promise<void>; fire: () => void } {
  let fire = (): void => undefined;
  const done = new Promise<void>((resolve) => (fire = resolve));
  return { done, fire };
}

/** Datagrams that are never a request: an unknown opcode with random bytes, or an ACK sent to port 69. */
function junk(i: number): Buffer {
  if (i % 2 === 0) return Buffer.from([0, Opcode.ACK, 0, i & 0xff]);
  return Buffer.concat([Buffer.from([0x7f, i & 0xff]), randomBytes(i % 50)]);
}

interface FloodResult {
  /** Per flood address: transfers admitted (their TIDs) and refusals received. */
  admitted: Map<string, Array<{ client: TestClient; tid: number }>>;
  refusals: Received[];
}

/** Sends every flood RRQ and the junk in small bursts, and collects the one reply each RRQ gets. */
async function flood(t: ExecutionContext, port: number): Promise<FloodResult> {
  const clients: Array<{ address: string; client: TestClient }> = [];
  for (const address of FLOOD) {
    for (let i = 0; i < PER_ADDRESS; i++) clients.push({ address, client: await TestClient.open(t, 0, address) });
  }
  const junkSender = await TestClient.open(t, 0, '127.0.0.30');
  // Interleaved by address, in bursts with a pause, so the kernel's socket buffers never
  // overflow (a lost datagram would make the counts below meaningless).
  const order = clients.map((_, i) => clients[(i % FLOOD.length) * PER_ADDRESS + Math.floor(i / FLOOD.length)]);
  for (let i = 0; i < order.length; i++) {
    order[i]?.client.send({ op: 'rrq', filename: 'kernel8.img', mode: 'octet', options: new Map([['blksize', '1468']]) }, port);
    if (i < JUNK) junkSender.send(junk(i), port);
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
  }
  const result: FloodResult = { admitted: new Map(FLOOD.map((a) => [a, []])), refusals: [] };
  await Promise.all(clients.map(async ({ address, client }) => {
    const reply = await client.next(REPLY_MS);
    if (!reply) throw new Error(`flood client ${address}:${client.port} got no reply (a datagram lost?)`);
    if (reply.packet.op === 'error') result.refusals.push(reply);
    else if (reply.packet.op === 'oack') result.admitted.get(address)?.push({ client, tid: reply.from.port });
    else throw new Error(`flood client got ${reply.packet.op}`);
  }));
  return result;
}

for (const { suffix, opts } of MODES) {
  test(`under a flood of RRQs and junk, well-behaved clients are served byte-exact and the excess is refused${suffix}`, async (t) => {
    t.timeout(120_000);
    const { port, server } = await startServer(t, memoryHandler({ 'kernel8.img': KERNEL, 'config.txt': CONFIG }), { ...HOLD, ...opts });

    // Each well-behaved client gets halfway through the kernel, then waits for the flood to end.
    const halfway = Math.floor(KERNEL.length / 1468 / 2);
    const floodOver = signal();
    const reachedHalf = GOOD.map(() => signal());
    const kernels = await Promise.all(GOOD.map((address) => TestClient.open(t, 0, address)));
    const kernelDownloads = kernels.map((c, i) =>
      download(c, port, 'kernel8.img', { blksize: '1468', tsize: '0' }, 'octet', {
        replyMs: REPLY_MS,
        beforeAck: async (n) => {
          if (n !== halfway) return;
          reachedHalf[i]?.fire();
          await floodOver.done;
        },
      }));
    await Promise.all(reachedHalf.map((s) => s.done));

    // The flood, and meanwhile each well-behaved client's next file (as a booting Pi asks).
    const configClients = await Promise.all(GOOD.map((address) => TestClient.open(t, 0, address)));
    const [result, configs] = await Promise.all([flood(t, port), Promise.all(configClients.map((c) => download(c, port, 'config.txt', {}, 'octet', { replyMs: REPLY_MS })))]);
    for (const c of configs) t.deepEqual(c.data, CONFIG, 'a small file fetched during the flood');

    // Each flood address got exactly its cap; the rest were refused at once with error 0 from port 69.
    for (const [address, admitted] of result.admitted) t.is(admitted.length, DEFAULT_MAX_TRANSFERS_PER_CLIENT, address);
    const refused = FLOOD.length * (PER_ADDRESS - DEFAULT_MAX_TRANSFERS_PER_CLIENT);
    t.is(result.refusals.length, refused);
    t.true(result.refusals.every((r) => r.packet.op === 'error' && r.packet.code === TftpErrorCode.NotDefined && r.from.port === port));
    await until(() => server.stats.malformed === JUNK, REPLY_MS);

    // The flood's transfers end (their clients abort), the held kernels finish.
    for (const admitted of result.admitted.values()) for (const { client, tid } of admitted) client.send({ op: 'error', code: 0, message: 'gone' }, tid);
    floodOver.fire();
    for (const k of await Promise.all(kernelDownloads)) t.true(k.data.equals(KERNEL), 'kernel byte-exact');

    const floodAdmitted = FLOOD.length * DEFAULT_MAX_TRANSFERS_PER_CLIENT;
    await until(() => server.activeTransfers === 0, REPLY_MS);
    const s = server.stats;
    t.like(s, { requests: FLOOD.length * PER_ADDRESS + 2 * GOOD.length, completed: 2 * GOOD.length, aborted: floodAdmitted, refused, errors: 0, malformed: JUNK });
    t.is(s.requests, s.completed + s.errors + s.aborted + s.refused, 'every request is accounted for once');

    // And the server still answers afterwards, even from a flooding address.
    const after = await TestClient.open(t, 0, FLOOD[0]);
    t.deepEqual((await download(after, port, 'config.txt', {}, 'octet', { replyMs: REPLY_MS })).data, CONFIG);
  });
}
