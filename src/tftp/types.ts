import type { Logger } from '../log.js';
import type { TftpCache } from './cache.js';
import type { TftpFile } from './file.js';

/** The peer of a transfer: its address and TID (UDP source port). */
export interface TftpClient {
  address: string;
  port: number;
}

/**
 * Decides what a read request gets. Called once per RRQ, many times per boot: Pi firmware probes
 * a dozen files it may not need. Resolve to `undefined` for "File not found" (error 1) and do it
 * quickly; throw `TftpAccessDenied` for "Access violation" (error 2). Any other rejection is
 * logged and answered with error 0. `path` is the filename exactly as the client sent it.
 */
export type TftpHandler = (path: string, client: TftpClient) => Promise<TftpFile | undefined>;

/** Thrown by a handler to refuse a request with error 2 (e.g. a path outside the served root). */
export class TftpAccessDenied extends Error {
  override name = 'TftpAccessDenied';
}

/** Why a request did not complete. */
export type TftpFailure =
  | 'not-found'
  | 'access-violation'
  | 'illegal-operation'
  | 'handler-failed'
  | 'read-failed'
  | 'timeout'
  | 'client-abort'
  | 'stopped'
  /** Refused at once with error 0 because `maxTransfers` or `maxTransfersPerClient` was reached. */
  | 'busy';

/** What the server reports through `onEvent`, e.g. to feed a per-node boot timeline. */
export type TftpEvent =
  | { type: 'rrq'; path: string; client: TftpClient; mode: string; options: Record<string, string> }
  | { type: 'complete'; path: string; client: TftpClient; bytes: number; ms: number }
  /** `bytes` = acknowledged so far. A `client-abort` is normal (firmware probes) and logged at debug. */
  | { type: 'error'; path: string; client: TftpClient; bytes: number; reason: TftpFailure; message: string };

export interface TftpServerOptions {
  /** Local IPv4 address to bind, e.g. the cluster interface's address. */
  address: string;
  /** UDP port; 69 by default, 0 picks a free one (see `TftpServer.port`). */
  port?: number;
  handler: TftpHandler;
  log: Logger;
  onEvent?: (e: TftpEvent) => void;
  /** Retransmission timeout before any `timeout` option (RFC 2349). Default 1000 ms. */
  timeoutMs?: number;
  /** Retransmissions without progress before a transfer is abandoned. Default 5. */
  retries?: number;
  /** Cap on negotiated blksize. Default 1468: the largest DATA that fits a 1500-byte Ethernet MTU. */
  maxBlksize?: number;
  /** Cap on negotiated windowsize (RFC 7440). Default 64. */
  maxWindowsize?: number;
  /**
   * Largest `timeout` option accepted (RFC 2349 allows 1..255 s); a larger one is left out of the
   * OACK and the transfer uses `timeoutMs`. Default 10.
   */
  maxTimeoutSeconds?: number;
  /**
   * Transfers running at once, over all clients; a request beyond it gets error 0 "Server busy"
   * at once and counts in `stats.refused`. Default 256.
   */
  maxTransfers?: number;
  /** Transfers running at once for one client IP address, refused the same way. Default 8. */
  maxTransfersPerClient?: number;
  /**
   * Holds the netascii form of files that carry an `id`. Pass the TftpCache your
   * fileSystemHandlers use so one byte budget covers both. Default: defaultTftpCache().
   */
  cache?: TftpCache;
  /**
   * Send DATA for in-memory files from native code when the client ACKs (native/tftp_fast.c).
   * Default true; ignored (JavaScript serves everything) when the addon is not built.
   */
  nativeFastPath?: boolean;
}

/**
 * Counters since the server was created. Once no transfer runs,
 * requests = completed + errors + aborted + refused.
 */
export interface TftpStats {
  /** Well-formed RRQs and WRQs received (a resent RRQ for a running transfer is not counted). */
  requests: number;
  completed: number;
  /** Requests that failed on our side or timed out (not-found, access violation, handler/read failure, timeout). */
  errors: number;
  /** Requests answered with "Server busy" because a transfer cap was reached (maxTransfers, maxTransfersPerClient). */
  refused: number;
  /** Transfers the client ended with an ERROR packet (counted apart: Pi probes do this all the time). */
  aborted: number;
  /** Datagrams dropped as undecodable or not valid where they arrived (e.g. an ACK on port 69). */
  malformed: number;
  /** DATA packets of ended transfers sent by the native fast path (0 when it is off). */
  nativeBlocks: number;
}
