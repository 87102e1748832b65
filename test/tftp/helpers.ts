import type { ExecutionContext } from 'ava';
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { silentLogger } from '../../src/log.js';
import { bufferFile } from '../../src/tftp/file.js';
import { decodePacket, encodePacket, type TftpPacket } from '../../src/tftp/packet.js';
import { TftpServer } from '../../src/tftp/server.js';
import type { TftpEvent, TftpHandler, TftpServerOptions } from '../../src/tftp/types.js';

export const HOST = '127.0.0.1';

/** A handler serving a fixed table of in-memory files. */
export function memoryHandler(files: Record<string, Uint8Array>): TftpHandler {
  const table = new Map(Object.entries(files));
  return async (path) => {
    const data = table.get(path);
    return data ? bufferFile(data) : undefined;
  };
}

/** Starts a server on 127.0.0.1 with a free port; stopped in teardown. Events are collected. */
export async function startServer(
  t: ExecutionContext,
  handler: TftpHandler,
  opts: Partial<TftpServerOptions> = {},
): Promise<{ server: TftpServer; port: number; events: TftpEvent[] }> {
  const events: TftpEvent[] = [];
  const server = new TftpServer({ address: HOST, port: 0, handler, log: silentLogger(), onEvent: (e) => events.push(e), ...opts });
  await server.start();
  t.teardown(() => server.stop());
  return { server, port: server.port, events };
}

export interface Received {
  packet: TftpPacket;
  from: RemoteInfo;
}

/** A scriptable TFTP peer: send raw packets, await decoded replies in arrival order. */
export class TestClient {
  private readonly queue: Received[] = [];
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg, from) => {
      this.queue.push({ packet: decodePacket(msg), from });
      this.waiter?.();
    });
  }

  /**
   * A client on `port` (default: any free one) of `address`: any 127.x.y.z works on Linux
   * loopback, so tests can play clients with different IP addresses against a server on HOST.
   */
  static async open(t: ExecutionContext, port = 0, address = HOST): Promise<TestClient> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(port, address, resolve));
    t.teardown(() => {
      try {
        socket.close();
      } catch {
        // closed by the test already
      }
    });
    return new TestClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(p: TftpPacket | Buffer, port: number): void {
    this.socket.send(Buffer.isBuffer(p) ? p : encodePacket(p), port, HOST);
  }

  /** The next packet, or undefined after `ms`. */
  async next(ms = 2000): Promise<Received | undefined> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), ms);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  /** The next packet, failing the test if none arrives. */
  async expect(ms = 2000): Promise<Received> {
    const r = await this.next(ms);
    if (!r) throw new Error(`no packet within ${ms} ms`);
    return r;
  }
}

export interface Download {
  data: Buffer;
  oack: Map<string, string> | undefined;
  /** Wire block numbers in the order received (first time each). */
  blocks: number[];
}

export interface DownloadHooks {
  /** Runs before the ACK of the n-th block received and may hold the transfer there (e.g. mid-file). */
  beforeAck?: (n: number) => Promise<void>;
  /** How long to wait for each packet before failing (a hang bound); default 2000 ms. */
  replyMs?: number;
}

/**
 * A complete RFC 1350 read with lock-step ACKs, or windowed ACKs when `windowsize` is requested
 * and acknowledged (ACK every window, RFC 7440). Throws on an ERROR packet.
 */
export async function download(
  client: TestClient,
  port: number,
  filename: string,
  options: Record<string, string> = {},
  mode: 'octet' | 'netascii' = 'octet',
  { beforeAck, replyMs }: DownloadHooks = {},
): Promise<Download> {
  client.send({ op: 'rrq', filename, mode, options: new Map(Object.entries(options)) }, port);
  let first = await client.expect(replyMs);
  const tid = first.from.port;
  let blksize = 512;
  let window = 1;
  let oack: Map<string, string> | undefined;
  if (first.packet.op === 'oack') {
    oack = first.packet.options;
    blksize = Number(oack.get('blksize') ?? 512);
    window = Number(oack.get('windowsize') ?? 1);
    client.send({ op: 'ack', block: 0 }, tid);
    first = await client.expect(replyMs);
  }
  const chunks: Buffer[] = [];
  const blocks: number[] = [];
  let expected = 1;
  let inWindow = 0;
  for (let r: Received | undefined = first; ; r = await client.expect(replyMs)) {
    const p = r.packet;
    if (p.op === 'error') throw new Error(`TFTP error ${p.code}: ${p.message}`);
    if (p.op !== 'data') throw new Error(`unexpected ${p.op}`);
    if (p.block !== (expected & 0xffff)) continue;
    chunks.push(Buffer.from(p.data));
    blocks.push(p.block);
    expected++;
    inWindow++;
    const last = p.data.length < blksize;
    await beforeAck?.(blocks.length);
    if (last || inWindow === window) {
      client.send({ op: 'ack', block: p.block }, tid);
      inWindow = 0;
    }
    if (last) break;
  }
  return { data: Buffer.concat(chunks), oack, blocks };
}

/** Waits until `cond()` holds (polling), for up to `ms`. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
