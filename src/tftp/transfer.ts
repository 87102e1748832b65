import { BlockSource, inMemory, type TftpFile } from './file.js';
import { Opcode, TftpErrorCode, decodePacket, encodeError, encodeOack, TftpDecodeError } from './packet.js';
import type { TransferParams } from './options.js';
import { TransferState, type TftpSocket } from './socket.js';

const { ACKED, SENT, LAST_SEND, NATIVE_BLOCKS } = TransferState;

/** How a transfer ended. `client-abort` is a client ERROR packet, e.g. a Pi's "Early terminate" probe. */
export type TransferOutcome =
  | { kind: 'complete'; bytes: number }
  | { kind: 'client-abort'; bytes: number; message: string }
  | { kind: 'timeout'; bytes: number }
  | { kind: 'read-failed'; bytes: number; error: unknown }
  | { kind: 'stopped'; bytes: number };

export interface TransferOptions {
  /** Bound to an ephemeral port: its port is the server's TID for this transfer (RFC 1350 §4). */
  socket: TftpSocket;
  client: { address: string; port: number };
  file: TftpFile;
  params: TransferParams;
  /** Retransmissions without progress before giving up. */
  retries: number;
  /** Datagrams from the client that are not valid here (counted by the server as malformed). */
  onMalformed: (reason: string) => void;
  onEnd: (outcome: TransferOutcome) => void;
}

/**
 * One read transfer on its own socket: sends OACK (if any) then DATA in windows of
 * `windowsize` blocks (RFC 7440; 1 = RFC 1350 lock-step), retransmitting only on timeout.
 *
 * Block numbers on the wire are the absolute block number mod 65536, so after 65535 comes 0
 * (the rollover most clients and Pi bootloaders ≥ 2025-09-23 expect).
 *
 * On a native socket serving an in-memory file, the one per-block step of a healthy transfer
 * (the client ACKed everything in flight → send the next window) runs in C without waking this
 * class; see native/tftp_fast.c for why and for its exact contract. This class still sees every
 * other datagram and owns all decisions; it shares `acked`, `sent` and the last send time with
 * the C side through `st` (layout: TransferState), so there is one copy of the transfer state.
 */
export class Transfer {
  private readonly socket: TftpSocket;
  private readonly source: BlockSource;
  private readonly blksize: number;
  private readonly window: number;
  private readonly timeoutMs: number;
  private readonly oack: Buffer | undefined;
  /**
   * Shared with native code when the fast path is armed. [ACKED]: highest absolute block the
   * client acknowledged (0: none, or only the OACK); [SENT]: highest absolute block sent in the
   * current window; [LAST_SEND]: performance.now() of the last send; [NATIVE_BLOCKS].
   */
  private readonly st = new Float64Array(TransferState.LENGTH);
  private awaitingOackAck: boolean;
  private retriesLeft: number;
  /** `acked` when the retry budget was last refilled: progress made natively is seen here. */
  private ackedAtRefill = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  /** DATA packet buffers, reused round-robin (see sendData). */
  private readonly ring: Buffer[];

  constructor(private readonly opts: TransferOptions) {
    const { params } = opts;
    this.socket = opts.socket;
    this.blksize = params.blksize;
    this.window = params.windowsize;
    this.timeoutMs = params.timeoutMs;
    this.oack = params.oack ? encodeOack(params.oack) : undefined;
    this.awaitingOackAck = this.oack !== undefined;
    this.retriesLeft = opts.retries;
    this.ring = new Array<Buffer>(this.window + 2);
    this.source = new BlockSource(opts.file, this.blksize, this.window, () => this.pump(), (err) => this.readFailed(err));
    this.socket.listen((msg, address, port) => this.onMessage(msg, address, port));
  }

  private get acked(): number {
    return this.st[ACKED] ?? 0;
  }
  private set acked(v: number) {
    this.st[ACKED] = v;
  }
  private get sent(): number {
    return this.st[SENT] ?? 0;
  }
  private set sent(v: number) {
    this.st[SENT] = v;
  }

  /** Bytes the client has acknowledged so far. */
  get bytes(): number {
    return Math.min(this.acked * this.blksize, this.opts.file.size);
  }

  /** DATA packets the native fast path sent (0 on the JS path). */
  get nativeBlocks(): number {
    return this.st[NATIVE_BLOCKS] ?? 0;
  }

  start(): void {
    const data = inMemory(this.opts.file);
    if (this.socket.fastPath && data) {
      const { client } = this.opts;
      try {
        this.socket.fastPath({ client, file: data, blksize: this.blksize, windowsize: this.window, blocks: this.source.blocks, state: this.st });
      } catch {
        // It only refuses arguments JS never produces; if it ever did, JS serves this transfer
        // alone (stats.nativeBlocks stays 0), which is correct, just slower.
      }
    }
    if (this.oack) this.sendRaw(this.oack);
    else this.pump();
    this.armTimer(this.timeoutMs);
  }

  /** Ends the transfer without telling the client (server shutdown). */
  stop(): void {
    this.end({ kind: 'stopped', bytes: this.bytes });
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    if (this.ended) return;
    if (port !== this.opts.client.port || address !== this.opts.client.address) {
      // RFC 1350 §4: a packet from a wrong TID gets error 5 and does not disturb the transfer.
      this.socket.send(encodeError(TftpErrorCode.UnknownTid, 'Unknown transfer ID'), port, address);
      return;
    }
    // A well-formed ACK (the only packet of a healthy transfer).
    if (msg.length >= 4 && msg.readUInt16BE(0) === Opcode.ACK) {
      this.onAck(msg.readUInt16BE(2));
      return;
    }
    let packet;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err;
      this.opts.onMalformed(err.message);
      return;
    }
    if (packet.op === 'error') {
      this.end({ kind: 'client-abort', bytes: this.bytes, message: `${packet.code} ${packet.message}` });
    } else {
      this.opts.onMalformed(`unexpected ${packet.op.toUpperCase()} during a read transfer`);
    }
  }

  private onAck(wire: number): void {
    if (this.awaitingOackAck) {
      // RFC 2347: the client confirms the OACK with ACK 0; anything else is stale.
      if (wire !== 0) return;
      this.awaitingOackAck = false;
      this.progress();
      this.pump();
      return;
    }
    // Distance from the last acknowledged block, modulo the 16-bit wire counter.
    const delta = (wire - this.acked) & 0xffff;
    // delta 0: a duplicate ACK. Resending on it is the Sorcerer's Apprentice bug (RFC 1123
    // §4.2.3.1); Pi 4 bootloaders since 2021-02-16 re-ACK every block, so this is the common case.
    // delta > in-flight: stale or from the future. Both are ignored; only the timer resends.
    if (delta === 0 || delta > this.sent - this.acked) return;
    this.acked += delta;
    if (this.acked >= this.source.blocks) {
      this.end({ kind: 'complete', bytes: this.opts.file.size });
      return;
    }
    // RFC 7440 §4: an ACK inside the window means the client lost the rest; resume after it.
    if (this.acked < this.sent) this.sent = this.acked;
    this.pump();
  }

  /** Sends blocks until the window is full, the file ends, or data must be read first. */
  private pump(): void {
    if (this.ended || this.awaitingOackAck) return;
    const last = Math.min(this.acked + this.window, this.source.blocks);
    while (this.sent < last) {
      const abs = this.sent + 1;
      const payload = this.source.block(abs);
      if (payload === undefined) return; // pump() runs again from BlockSource.onReady
      this.sendData(abs, payload);
      this.sent = abs;
    }
  }

  private sendData(abs: number, payload: Uint8Array): void {
    // Packets come from a per-transfer ring, so the hot path allocates nothing. Slot reuse is safe:
    // a slot is rewritten for block b + ring.length only after the client ACKed b (the window is
    // smaller than the ring), so that earlier send has completed.
    const i = abs % this.ring.length;
    let slot = this.ring[i];
    if (slot === undefined) {
      slot = Buffer.allocUnsafeSlow(4 + this.blksize);
      slot[0] = 0;
      slot[1] = Opcode.DATA;
      this.ring[i] = slot;
    }
    slot[2] = (abs >>> 8) & 0xff;
    slot[3] = abs & 0xff;
    slot.set(payload, 4);
    this.sendRaw(payload.length === this.blksize ? slot : slot.subarray(0, 4 + payload.length));
  }

  private sendRaw(packet: Buffer): void {
    this.st[LAST_SEND] = performance.now();
    this.socket.send(packet, this.opts.client.port, this.opts.client.address);
  }

  /** Refills the retry budget: on the OACK's ACK, and in onTimer when `acked` moved (here or natively). */
  private progress(): void {
    this.retriesLeft = this.opts.retries;
    this.ackedAtRefill = this.acked;
  }

  /**
   * One lazily re-armed timer per transfer instead of a clear/set per block: it fires, checks how
   * long ago we last sent, and either sleeps the rest or retransmits (RFC 1350 §2, RFC 2349).
   */
  private armTimer(ms: number): void {
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, ms));
    this.timer.unref();
  }

  private onTimer(): void {
    if (this.ended) return;
    const idle = performance.now() - (this.st[LAST_SEND] ?? 0);
    if (idle < this.timeoutMs) {
      this.armTimer(this.timeoutMs - idle);
      return;
    }
    if (this.acked !== this.ackedAtRefill) this.progress();
    if (this.retriesLeft <= 0) {
      this.end({ kind: 'timeout', bytes: this.bytes });
      return;
    }
    this.retriesLeft--;
    if (this.awaitingOackAck && this.oack) {
      this.sendRaw(this.oack);
    } else {
      this.sent = this.acked; // resend the whole unacknowledged window
      this.st[LAST_SEND] = performance.now();
      this.pump();
    }
    this.armTimer(this.timeoutMs);
  }

  private readFailed(err: unknown): void {
    if (this.ended) return;
    this.socket.send(encodeError(TftpErrorCode.NotDefined, 'Read error'), this.opts.client.port, this.opts.client.address);
    this.end({ kind: 'read-failed', bytes: this.bytes, error: err });
  }

  private end(outcome: TransferOutcome): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket.listen(undefined);
    // Also disarms the fast path; pending sends (e.g. a final ERROR) still go out.
    this.socket.close();
    this.opts.onEnd(outcome);
  }
}
