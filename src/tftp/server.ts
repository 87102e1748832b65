import type { Socket, RemoteInfo } from 'node:dgram';
import { BootfleetError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { defaultTftpCache, type TftpCache } from './cache.js';
import { bufferFile, readAll, toNetascii, type TftpFile } from './file.js';
import { DEFAULT_MAX_TIMEOUT_SECONDS, DEFAULT_MAX_TRANSFERS, DEFAULT_MAX_TRANSFERS_PER_CLIENT, TransferSlots, type Refusal } from './limits.js';
import { negotiate } from './options.js';
import { TftpDecodeError, TftpErrorCode, decodePacket, encodeError, MAX_BLKSIZE, MIN_BLKSIZE, type RequestPacket } from './packet.js';
import { bindSocket, openTftpSocket, tftpNative } from './socket.js';
import { Transfer, type TransferOutcome } from './transfer.js';
import { TftpAccessDenied, type TftpClient, type TftpEvent, type TftpFailure, type TftpServerOptions, type TftpStats } from './types.js';

/**
 * A read-only TFTP server (RFC 1350 with RFC 2347/2348/2349/7440 options). It makes no policy
 * decisions: every read request goes to `handler`. Each transfer runs on its own ephemeral socket.
 * A bad datagram is dropped and counted, a failed transfer is logged; only a bind failure throws.
 * Resource caps (transfers in total and per client, the accepted `timeout` option) bound what a
 * flood of requests can take; a request beyond a cap gets an ERROR at once (docs/tftp.md "Limits").
 */
export class TftpServer {
  private socket: Socket | undefined;
  private readonly transfers = new Map<string, Transfer | 'opening'>();
  private readonly slots: TransferSlots;
  /** Bumped by stop(): a transfer of an earlier run must not free a slot or key of this one. */
  private generation = 0;
  private readonly counters: TftpStats = { requests: 0, completed: 0, errors: 0, refused: 0, aborted: 0, malformed: 0, nativeBlocks: 0 };
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly maxBlksize: number;
  private readonly maxWindowsize: number;
  private readonly maxTimeoutSeconds: number;
  private readonly cache: TftpCache;
  private readonly native: ReturnType<typeof tftpNative>;
  /** When each rate-limited log line was last written (performance.now()). */
  private readonly lastLog = { malformed: -Infinity, refused: -Infinity };

  constructor(private readonly opts: TftpServerOptions) {
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.retries = opts.retries ?? 5;
    this.maxBlksize = Math.max(MIN_BLKSIZE, Math.min(opts.maxBlksize ?? 1468, MAX_BLKSIZE));
    this.maxWindowsize = Math.max(1, opts.maxWindowsize ?? 64);
    this.maxTimeoutSeconds = Math.max(1, Math.min(opts.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS, 255));
    this.slots = new TransferSlots(Math.max(1, opts.maxTransfers ?? DEFAULT_MAX_TRANSFERS), Math.max(1, opts.maxTransfersPerClient ?? DEFAULT_MAX_TRANSFERS_PER_CLIENT));
    this.cache = opts.cache ?? defaultTftpCache();
    this.native = opts.nativeFastPath === false ? undefined : tftpNative();
    if (!this.native && opts.nativeFastPath !== false) this.log.debug('tftp native fast path unavailable (addon not built): serving from JavaScript');
  }

  /** True when transfers run on native sockets with the ACK→DATA fast path (native/tftp_fast.c). */
  get nativeFastPath(): boolean {
    return this.native !== undefined;
  }

  get stats(): TftpStats {
    return { ...this.counters };
  }

  /** Transfers running now (including ones still being opened). */
  get activeTransfers(): number {
    return this.slots.active;
  }

  /** The bound port (useful with `port: 0`). Throws before start(). */
  get port(): number {
    if (!this.socket) throw new BootfleetError('ERR_INTERNAL', 'TFTP server is not started');
    return this.socket.address().port;
  }

  /** Binds the listening socket; rejects with ERR_BIND_FAILED if the address or port is unavailable. */
  async start(): Promise<void> {
    if (this.socket) return;
    const socket = await bindSocket(this.opts.address, this.opts.port ?? 69).catch((err: unknown) => {
      throw new BootfleetError('ERR_BIND_FAILED', `TFTP cannot bind ${this.opts.address}:${this.opts.port ?? 69}: ${errorMessage(err)}`, { cause: err });
    });
    socket.on('message', (msg, rinfo) => this.onRequest(msg, rinfo));
    socket.on('error', (err) => this.log.error({ err }, 'tftp listening socket error'));
    this.socket = socket;
    this.log.info({ address: this.opts.address, port: this.port }, 'tftp listening');
  }

  /** Closes the listening socket and abandons running transfers. Safe to call twice. */
  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.generation++;
    for (const t of this.transfers.values()) if (t !== 'opening') t.stop();
    this.transfers.clear();
    this.slots.clear();
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private onRequest(msg: Buffer, rinfo: RemoteInfo): void {
    let packet;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err;
      this.malformed(rinfo, err.message);
      return;
    }
    if (packet.op !== 'rrq' && packet.op !== 'wrq') {
      this.malformed(rinfo, `${packet.op.toUpperCase()} on the request port`);
      return;
    }
    const client: TftpClient = { address: rinfo.address, port: rinfo.port };
    const key = `${client.address}:${client.port}`;
    // A client that retransmits its RRQ while we are still answering it gets the transfer once.
    if (this.transfers.has(key)) return;
    this.counters.requests++;
    const refusal = this.slots.acquire(client.address);
    if (refusal) {
      this.refuse(packet.filename, client, refusal);
      return;
    }
    this.transfers.set(key, 'opening');
    const generation = this.generation;
    this.serve(packet, client)
      .catch((err: unknown) => {
        // Only socket creation can land here (e.g. EMFILE); the client will retry.
        this.counters.errors++;
        this.log.error({ err, path: packet.filename, client }, 'tftp could not start a transfer');
      })
      .finally(() => {
        if (generation !== this.generation) return;
        this.transfers.delete(key);
        this.slots.release(client.address);
      });
  }

  /**
   * Answers a request beyond a cap with error 0 and a message saying why, at once and from the
   * listening port: no socket is opened for it, which is the resource being protected. Code 0
   * ("not defined, see message", RFC 1350) because the busy state is temporary: U-Boot retries on
   * it (and gives up on 1 and 2), error 1 would tell a Pi the file does not exist (it then drops
   * its serial prefix or skips the file), and error 2 is a permanent refusal. docs/tftp.md "Limits".
   */
  private refuse(path: string, client: TftpClient, refusal: Refusal): void {
    this.counters.refused++;
    const message = refusal === 'server' ? 'Server busy: too many transfers' : 'Server busy: too many transfers from your address';
    this.socket?.send(encodeError(TftpErrorCode.NotDefined, message), client.port, client.address);
    // Rate-limited: a flood of refusals must not become a flood of log lines.
    if (this.logDue('refused')) {
      const cap = refusal === 'server' ? { maxTransfers: this.slots.max } : { maxTransfersPerClient: this.slots.maxPerClient };
      this.log.warn({ client, path, ...cap, active: this.slots.active, total: this.counters.refused }, 'tftp refused a request: transfer cap reached');
    }
    this.emit({ type: 'error', path, client, bytes: 0, reason: 'busy', message });
  }

  private async serve(req: RequestPacket, client: TftpClient): Promise<void> {
    const path = req.filename;
    const key = `${client.address}:${client.port}`;
    const started = performance.now();
    this.emit({ type: 'rrq', path, client, mode: req.mode, options: Object.fromEntries(req.options) });
    const onSocketError = (err: unknown): void => this.log.warn({ err, path, client }, 'tftp transfer socket error');
    const [socket, found] = await Promise.all([openTftpSocket(this.opts.address, this.native, onSocketError), this.lookup(req, client)]);
    const fail = (reason: TftpFailure, code: number, message: string): void => {
      socket.send(encodeError(code, message), client.port, client.address);
      socket.close();
      this.failed(path, client, 0, reason, message);
    };
    if ('failure' in found) return fail(found.failure, found.code, found.message);
    if (this.transfers.get(key) !== 'opening') {
      socket.close(); // stopped meanwhile
      return;
    }
    const params = negotiate(req.options, found.file.size, {
      maxBlksize: this.maxBlksize,
      maxWindowsize: this.maxWindowsize,
      defaultTimeoutMs: this.timeoutMs,
      maxTimeoutSeconds: this.maxTimeoutSeconds,
    });
    await new Promise<void>((resolve) => {
      const transfer = new Transfer({
        socket,
        client,
        file: found.file,
        params,
        retries: this.retries,
        onMalformed: (reason) => this.malformed(client, reason),
        onEnd: (outcome) => {
          this.counters.nativeBlocks += transfer.nativeBlocks;
          this.ended(path, client, outcome, started);
          resolve();
        },
      });
      this.transfers.set(key, transfer);
      transfer.start();
    });
  }

  /** Resolves the request to a file, or to the error the client gets. */
  private async lookup(req: RequestPacket, client: TftpClient): Promise<{ file: TftpFile } | { failure: TftpFailure; code: number; message: string }> {
    // Read-only server: RFC 1350 error 2 for any write.
    if (req.op === 'wrq') return { failure: 'access-violation', code: TftpErrorCode.AccessViolation, message: 'Access violation: read-only server' };
    if (req.mode === 'mail') return { failure: 'illegal-operation', code: TftpErrorCode.IllegalOperation, message: 'mail mode not supported' };
    let file: TftpFile | undefined;
    try {
      file = await this.opts.handler(req.filename, { ...client });
    } catch (err) {
      if (err instanceof TftpAccessDenied) return { failure: 'access-violation', code: TftpErrorCode.AccessViolation, message: 'Access violation' };
      this.log.warn({ err, path: req.filename }, 'tftp handler failed');
      return { failure: 'handler-failed', code: TftpErrorCode.NotDefined, message: 'Internal error' };
    }
    if (!file) return { failure: 'not-found', code: TftpErrorCode.FileNotFound, message: 'File not found' };
    if (req.mode === 'netascii') {
      try {
        file = await this.netascii(file);
      } catch (err) {
        this.log.warn({ err, path: req.filename }, 'tftp read failed');
        return { failure: 'read-failed', code: TftpErrorCode.NotDefined, message: 'Read error' };
      }
    }
    return { file };
  }

  /**
   * The netascii form of `file`, converted once per file identity (TftpFile.id) and kept in the
   * shared cache: converting a large kernel on every netascii RRQ would let a few requests keep
   * the event loop busy. A file without an id is converted each time.
   */
  private async netascii(file: TftpFile): Promise<TftpFile> {
    if (file.id === undefined) return bufferFile(toNetascii(await readAll(file)));
    const key = `netascii\0${file.id}`;
    return bufferFile(await this.cache.load(key, async () => toNetascii(await readAll(file))), key);
  }

  private ended(path: string, client: TftpClient, outcome: TransferOutcome, started: number): void {
    switch (outcome.kind) {
      case 'complete': {
        this.counters.completed++;
        const ms = Math.round(performance.now() - started);
        this.log.debug({ path, client, bytes: outcome.bytes, ms }, 'tftp sent');
        this.emit({ type: 'complete', path, client, bytes: outcome.bytes, ms });
        return;
      }
      case 'client-abort':
        return this.failed(path, client, outcome.bytes, 'client-abort', outcome.message);
      case 'timeout':
        return this.failed(path, client, outcome.bytes, 'timeout', 'client stopped acknowledging');
      case 'read-failed':
        return this.failed(path, client, outcome.bytes, 'read-failed', errorMessage(outcome.error));
      case 'stopped':
        return this.failed(path, client, outcome.bytes, 'stopped', 'server stopped');
      default: {
        const never: never = outcome;
        throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
      }
    }
  }

  private failed(path: string, client: TftpClient, bytes: number, reason: TftpFailure, message: string): void {
    if (reason === 'client-abort') {
      // Pi firmware aborts existence probes after the first block ("Early terminate"): normal.
      this.counters.aborted++;
      this.log.debug({ path, client, bytes, message }, 'tftp transfer ended by client');
    } else {
      this.counters.errors++;
      const level = reason === 'not-found' || reason === 'stopped' ? 'debug' : 'warn';
      this.log[level]({ path, client, bytes, reason, message }, 'tftp request failed');
    }
    this.emit({ type: 'error', path, client, bytes, reason, message });
  }

  private malformed(from: { address: string; port: number }, reason: string): void {
    this.counters.malformed++;
    // Rate-limited: a flood of junk must not become a flood of log lines.
    if (!this.logDue('malformed')) return;
    this.log.warn({ from: `${from.address}:${from.port}`, reason, total: this.counters.malformed }, 'tftp dropped malformed packet');
  }

  /** True at most once a second per kind; the line it allows carries the running total. */
  private logDue(kind: keyof TftpServer['lastLog']): boolean {
    const now = performance.now();
    if (now - this.lastLog[kind] < 1000) return false;
    this.lastLog[kind] = now;
    return true;
  }

  private emit(e: TftpEvent): void {
    if (!this.opts.onEvent) return;
    try {
      this.opts.onEvent(e);
    } catch (err) {
      this.log.warn({ err }, 'tftp onEvent listener threw');
    }
  }
}

/** Creates (does not start) a TFTP server; see TftpServer. */
export function createTftpServer(opts: TftpServerOptions): TftpServer {
  return new TftpServer(opts);
}
