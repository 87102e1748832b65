/**
 * TFTP packet codec: RFC 1350 (RRQ, WRQ, DATA, ACK, ERROR) and RFC 2347 (OACK, request options).
 * Pure functions over Buffers; no sockets, no policy.
 */

/** RFC 1350 §5 / RFC 2347 opcodes. */
export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 1350 appendix error codes, plus 8 from RFC 2347 (option negotiation refused). */
export const TftpErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTid: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionRefused: 8,
} as const;
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode];

/** Transfer modes of RFC 1350 §1; `mail` is obsolete and never served. */
export type TftpMode = 'netascii' | 'octet' | 'mail';

export interface RequestPacket {
  op: 'rrq' | 'wrq';
  filename: string;
  mode: TftpMode;
  /** RFC 2347 options, names lower-cased (they are case-insensitive); the first of duplicates wins. */
  options: Map<string, string>;
}
export interface DataPacket {
  op: 'data';
  block: number;
  data: Buffer;
}
export interface AckPacket {
  op: 'ack';
  block: number;
}
export interface ErrorPacket {
  op: 'error';
  code: number;
  message: string;
}
export interface OackPacket {
  op: 'oack';
  options: Map<string, string>;
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** A datagram that is not a well-formed TFTP packet. The server drops and counts these. */
export class TftpDecodeError extends Error {
  override name = 'TftpDecodeError';
}

/** The largest DATA payload RFC 2348 allows (65535 - 20 IP - 8 UDP - 4 TFTP - 39 slack). */
export const MAX_BLKSIZE = 65464;
/** The smallest DATA payload RFC 2348 allows. */
export const MIN_BLKSIZE = 8;

/** Decodes one datagram. Throws TftpDecodeError for anything malformed; never anything else. */
export function decodePacket(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw new TftpDecodeError(`packet too short (${buf.length} bytes)`);
  const op = buf.readUInt16BE(0);
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return decodeRequest(buf, op === Opcode.RRQ ? 'rrq' : 'wrq');
    case Opcode.DATA:
      if (buf.length < 4) throw new TftpDecodeError('DATA shorter than 4 bytes');
      if (buf.length > 4 + MAX_BLKSIZE) throw new TftpDecodeError('DATA longer than the largest blksize');
      return { op: 'data', block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case Opcode.ACK:
      // RFC 1350 ACKs are exactly 4 bytes; some embedded clients pad them, so extra bytes are ignored.
      if (buf.length < 4) throw new TftpDecodeError('ACK shorter than 4 bytes');
      return { op: 'ack', block: buf.readUInt16BE(2) };
    case Opcode.ERROR: {
      if (buf.length < 4) throw new TftpDecodeError('ERROR shorter than 4 bytes');
      // Be lenient about a missing terminating NUL: the packet is only ever used to end a transfer.
      const end = buf.indexOf(0, 4);
      const message = buf.toString('utf8', 4, end === -1 ? buf.length : end);
      return { op: 'error', code: buf.readUInt16BE(2), message };
    }
    case Opcode.OACK:
      return { op: 'oack', options: decodeOptions(splitStrings(buf, 2), 'OACK') };
    default:
      throw new TftpDecodeError(`unknown opcode ${op}`);
  }
}

function decodeRequest(buf: Buffer, op: 'rrq' | 'wrq'): RequestPacket {
  const fields = splitStrings(buf, 2);
  const [filename, rawMode] = fields;
  if (filename === undefined || rawMode === undefined) throw new TftpDecodeError('request without filename and mode');
  if (filename === '') throw new TftpDecodeError('request with an empty filename');
  const mode = rawMode.toLowerCase();
  if (mode !== 'octet' && mode !== 'netascii' && mode !== 'mail') throw new TftpDecodeError(`unknown mode ${JSON.stringify(rawMode)}`);
  return { op, filename, mode, options: decodeOptions(fields.slice(2), 'request') };
}

/** NUL-terminated strings from `start` on. The last one must be terminated (RFC 1350 §5). */
function splitStrings(buf: Buffer, start: number): string[] {
  if (buf.length > start && buf[buf.length - 1] !== 0) throw new TftpDecodeError('string not NUL-terminated');
  const out: string[] = [];
  let pos = start;
  while (pos < buf.length) {
    const end = buf.indexOf(0, pos);
    out.push(buf.toString('utf8', pos, end));
    pos = end + 1;
  }
  return out;
}

function decodeOptions(fields: string[], what: string): Map<string, string> {
  // Some PXE ROMs pad requests with NULs: trailing empty strings are padding, not options.
  let n = fields.length;
  while (n > 0 && fields[n - 1] === '') n--;
  if (n % 2 !== 0) throw new TftpDecodeError(`${what} option ${JSON.stringify(fields[n - 1])} has no value`);
  const options = new Map<string, string>();
  for (let i = 0; i < n; i += 2) {
    const name = (fields[i] ?? '').toLowerCase();
    if (name === '') throw new TftpDecodeError(`${what} has an empty option name`);
    if (!options.has(name)) options.set(name, fields[i + 1] ?? '');
  }
  return options;
}

/** Encodes any packet (tests and clients use it; the server's hot path writes DATA headers itself). */
export function encodePacket(p: TftpPacket): Buffer {
  switch (p.op) {
    case 'rrq':
    case 'wrq': {
      const strings = [p.filename, p.mode, ...[...p.options].flat()];
      return withStrings(p.op === 'rrq' ? Opcode.RRQ : Opcode.WRQ, strings);
    }
    case 'data':
      return encodeData(p.block, p.data);
    case 'ack':
      return encodeAck(p.block);
    case 'error':
      return encodeError(p.code, p.message);
    case 'oack':
      return encodeOack(p.options);
    default:
      return assertNever(p);
  }
}

/** DATA with a copy of `data`. */
export function encodeData(block: number, data: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(4 + data.length);
  buf.writeUInt16BE(Opcode.DATA, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
  buf.set(data, 4);
  return buf;
}

export function encodeAck(block: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf.writeUInt16BE(Opcode.ACK, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
  return buf;
}

export function encodeError(code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const buf = Buffer.alloc(5 + msg.length);
  buf.writeUInt16BE(Opcode.ERROR, 0);
  buf.writeUInt16BE(code & 0xffff, 2);
  msg.copy(buf, 4);
  return buf;
}

export function encodeOack(options: ReadonlyMap<string, string>): Buffer {
  return withStrings(Opcode.OACK, [...options].flat());
}

function withStrings(op: number, strings: string[]): Buffer {
  const parts = strings.map((s) => Buffer.from(`${s}\0`, 'utf8'));
  const head = Buffer.allocUnsafe(2);
  head.writeUInt16BE(op, 0);
  return Buffer.concat([head, ...parts]);
}

function assertNever(x: never): never {
  throw new Error(`unhandled packet ${JSON.stringify(x)}`);
}
