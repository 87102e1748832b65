import dgram, { type Socket } from 'node:dgram';
import { nativeNet, type NativeNet } from '../net/native.js';

/**
 * The per-transfer socket a Transfer talks through, in two implementations:
 *
 * - native (default when the addon is built): a UDP socket created and polled by
 *   native/tftp_fast.c, whose fast path sends the next DATA block(s) in C when the client ACKs
 *   everything in flight, without entering JavaScript. Every other datagram reaches `listen`.
 * - dgram: a plain Node socket; the pure-JS fallback (addon missing, or `nativeFastPath: false`).
 *
 * Both deliver datagrams in arrival order, and `send` never throws (failures go to the onError
 * given at open; the retransmission timer recovers, as from a datagram lost on the wire).
 */
export interface TftpSocket {
  /** Sets (or with undefined, removes) the receiver of incoming datagrams. */
  listen(onMessage: ((msg: Buffer, address: string, port: number) => void) | undefined): void;
  send(packet: Uint8Array, port: number, address: string): void;
  /** Closes after any pending send has been handed to the kernel. Safe to call twice. */
  close(): void;
  /** Present only on native sockets: see FastPath. */
  readonly fastPath: FastPath | undefined;
}

/**
 * Hands the steady-state ACK→next-DATA step of one transfer to native code. The caller keeps
 * owning the protocol; `state` (see TransferState) is shared and read back after every event.
 */
export type FastPath = (args: { client: { address: string; port: number }; file: Uint8Array; blksize: number; windowsize: number; blocks: number; state: Float64Array }) => void;

/**
 * Layout of the Float64Array a Transfer shares with native/tftp_fast.c (mirrored there as ST_*).
 * Absolute block numbers (1-based, never wrapped); times in performance.now() milliseconds.
 */
export const TransferState = {
  /** Highest block the client acknowledged. */
  ACKED: 0,
  /** Highest block sent in the current window. */
  SENT: 1,
  /** When DATA or OACK was last sent (by either side). */
  LAST_SEND: 2,
  /** DATA packets sent by the native fast path. */
  NATIVE_BLOCKS: 3,
  LENGTH: 4,
} as const;

type TftpHandle = ReturnType<NativeNet['tftpOpen']>;

let addon: NativeNet | undefined | null;

/** The addon if it is built and has the TFTP functions (an older build lacks them), else undefined. */
export function tftpNative(): NativeNet | undefined {
  if (addon === undefined) {
    try {
      const n = nativeNet();
      addon = typeof n.tftpOpen === 'function' && typeof n.tftpFastPath === 'function' ? n : null;
    } catch {
      addon = null;
    }
  }
  return addon ?? undefined;
}

/**
 * performance.now() = uv_hrtime() / 1e6 - CLOCK_ORIGIN_MS, so native code can stamp state times
 * in the clock the JS timer reads. Measured once after a warm-up call (the first call of each
 * clock is slow to return).
 */
const CLOCK_ORIGIN_MS = (() => {
  let best = Infinity;
  let origin = 0;
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const hr = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      origin = hr - (before + after) / 2;
    }
  }
  return origin;
})();

/** Opens a transfer socket bound to address:0 (the server TID), native if `native` is given. */
export async function openTftpSocket(address: string, native: NativeNet | undefined, onError: (err: unknown) => void): Promise<TftpSocket> {
  return native ? new NativeTftpSocket(native, address, onError) : DgramTftpSocket.open(address, onError);
}

class NativeTftpSocket implements TftpSocket {
  private readonly handle: TftpHandle;
  private receiver: ((msg: Buffer, address: string, port: number) => void) | undefined;
  private closed = false;
  readonly fastPath: FastPath;

  constructor(
    private readonly n: NativeNet,
    address: string,
    private readonly onError: (err: unknown) => void,
  ) {
    this.handle = n.tftpOpen(address, (msg, from, port) => this.receiver?.(msg, from, port));
    this.fastPath = ({ client, file, blksize, windowsize, blocks, state }) =>
      n.tftpFastPath(this.handle, client.address, client.port, file, blksize, windowsize, blocks, state, CLOCK_ORIGIN_MS);
  }

  listen(onMessage: ((msg: Buffer, address: string, port: number) => void) | undefined): void {
    this.receiver = onMessage;
  }

  send(packet: Uint8Array, port: number, address: string): void {
    if (this.closed) return;
    try {
      this.n.tftpSend(this.handle, packet, address, port);
    } catch (err) {
      // As with dgram: a failed send is reported, and the retransmission timer recovers.
      this.onError(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = undefined;
    // sendto() is synchronous, so nothing is pending.
    this.n.tftpClose(this.handle);
  }
}

class DgramTftpSocket implements TftpSocket {
  readonly fastPath = undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {}

  static async open(address: string, onError: (err: unknown) => void): Promise<DgramTftpSocket> {
    const socket = await bindSocket(address, 0);
    socket.on('error', onError);
    return new DgramTftpSocket(socket);
  }

  listen(onMessage: ((msg: Buffer, address: string, port: number) => void) | undefined): void {
    this.socket.removeAllListeners('message');
    if (onMessage) this.socket.on('message', (msg, rinfo) => onMessage(msg, rinfo.address, rinfo.port));
  }

  send(packet: Uint8Array, port: number, address: string): void {
    if (!this.closed) this.socket.send(packet, port, address);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.removeAllListeners('message');
    // Close after pending sends (e.g. a final ERROR) have been handed to the kernel.
    setImmediate(() => this.socket.close());
  }
}

/** An IPv4 UDP socket bound to address:port. The lookup skips dns.lookup: we only ever send to IP literals. */
export function bindSocket(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', lookup: (host, _opts, cb) => cb(null, host, 4) });
    socket.once('error', reject);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
