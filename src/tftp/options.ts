import { MAX_BLKSIZE, MIN_BLKSIZE } from './packet.js';

/** What a transfer runs with after RFC 2347 option negotiation. */
export interface TransferParams {
  /** DATA payload size: 512 unless blksize was negotiated (RFC 2348). */
  blksize: number;
  /** Blocks sent before waiting for an ACK: 1 (lock-step, RFC 1350) unless windowsize was negotiated (RFC 7440). */
  windowsize: number;
  /** Retransmission timeout; the client may set it in whole seconds (RFC 2349 `timeout`). */
  timeoutMs: number;
  /** Options to acknowledge in an OACK; undefined when none was accepted (then no OACK is sent, RFC 2347). */
  oack: Map<string, string> | undefined;
}

export interface NegotiationLimits {
  maxBlksize: number;
  maxWindowsize: number;
  defaultTimeoutMs: number;
  /** Largest `timeout` option accepted (1..255); a larger one is left out of the OACK. */
  maxTimeoutSeconds: number;
}

const UINT = /^\d{1,10}$/;

/**
 * Pure RFC 2347 negotiation for a read request. Options we do not know, or whose value is out of
 * range, are left out of the OACK, which tells the client they were refused (RFC 2347 §3).
 *
 * - blksize (RFC 2348): 8..65464, answered with min(requested, maxBlksize).
 * - tsize (RFC 2349): the client sends 0 in an RRQ; we answer with the real `size`.
 * - timeout (RFC 2349): 1..maxTimeoutSeconds (the RFC allows up to 255), echoed and used for
 *   retransmission. A larger value is refused, not lowered: RFC 2349 says an accepted timeout is
 *   echoed unchanged (U-Boot aborts on any other value), and a refused option is left out of the
 *   OACK (RFC 2347 §3); the transfer then runs on `defaultTimeoutMs`. Why a cap: a transfer
 *   holds its slot until `retries` timeouts in a row, so a client asking for 255 s could pin one
 *   for 25 minutes (docs/tftp.md "Limits").
 * - windowsize (RFC 7440): 1..65535, answered with min(requested, maxWindowsize).
 */
export function negotiate(requested: ReadonlyMap<string, string>, size: number, limits: NegotiationLimits): TransferParams {
  const params: TransferParams = { blksize: 512, windowsize: 1, timeoutMs: limits.defaultTimeoutMs, oack: undefined };
  const oack = new Map<string, string>();
  for (const [name, raw] of requested) {
    if (!UINT.test(raw)) continue;
    const value = Number(raw);
    switch (name) {
      case 'blksize':
        if (value < MIN_BLKSIZE || value > MAX_BLKSIZE) break;
        params.blksize = Math.min(value, limits.maxBlksize);
        oack.set(name, String(params.blksize));
        break;
      case 'tsize':
        oack.set(name, String(size));
        break;
      case 'timeout':
        if (value < 1 || value > Math.min(255, limits.maxTimeoutSeconds)) break;
        params.timeoutMs = value * 1000;
        oack.set(name, String(value));
        break;
      case 'windowsize':
        if (value < 1 || value > 65535) break;
        params.windowsize = Math.min(value, limits.maxWindowsize);
        oack.set(name, String(params.windowsize));
        break;
      default:
        break;
    }
  }
  if (oack.size > 0) params.oack = oack;
  return params;
}
