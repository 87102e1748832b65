/**
 * DHCP/BOOTP packet codec (RFC 2131 §2, RFC 2132, RFC 3396). Pure functions, no policy.
 */
import { intToIp, ipToInt, macFromBytes } from '../net/addr.js';
import { Opt } from './options.js';

/** A decoded DHCP message. Addresses are dotted quads; `options` maps code → payload. */
export interface DhcpPacket {
  /** 1 = BOOTREQUEST, 2 = BOOTREPLY. */
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  /** Bit 15 (0x8000) is the broadcast flag (RFC 2131 §2, figure 2). */
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 16 bytes; the first `hlen` are the hardware address. */
  chaddr: Buffer;
  sname: string;
  file: string;
  /** Repeated options are already concatenated (RFC 3396), overloaded fields already merged. */
  options: Map<number, Buffer>;
}

export const BootOp = { Request: 1, Reply: 2 } as const;
export const BROADCAST_FLAG = 0x8000;
export const MAGIC_COOKIE = 0x63825363;
/** Size of the fixed BOOTP header, up to the magic cookie. */
const HEADER = 236;
/** RFC 951/1542: a BOOTP message is at least 300 bytes; some relays and ROMs drop shorter ones. */
export const MIN_PACKET = 300;
const SNAME_OFF = 44;
const SNAME_LEN = 64;
const FILE_OFF = 108;
const FILE_LEN = 128;

/** Thrown by `decodePacket` for anything malformed; `reason` says what. */
export class DhcpDecodeError extends Error {
  override name = 'DhcpDecodeError';
  constructor(readonly reason: string) {
    super(`malformed DHCP packet: ${reason}`);
  }
}

/** The client's hardware address as a lowercase colon MAC (first `hlen` bytes of chaddr). */
export function packetMac(p: DhcpPacket): string {
  return macFromBytes(p.chaddr.subarray(0, Math.min(p.hlen, 6)));
}

/**
 * Decodes one UDP payload. Throws DhcpDecodeError when it is shorter than the header, has the
 * wrong magic cookie, hlen > 16, an unknown op, an option whose length runs past the end of its
 * field, or a bad overload value.
 */
export function decodePacket(buf: Buffer): DhcpPacket {
  if (buf.length < HEADER + 4) throw new DhcpDecodeError(`truncated: ${buf.length} bytes, need at least ${HEADER + 4}`);
  const op = buf.readUInt8(0);
  if (op !== BootOp.Request && op !== BootOp.Reply) throw new DhcpDecodeError(`bad op ${op}`);
  const hlen = buf.readUInt8(2);
  if (hlen > 16) throw new DhcpDecodeError(`hlen ${hlen} > 16`);
  const cookie = buf.readUInt32BE(HEADER);
  if (cookie !== MAGIC_COOKIE) throw new DhcpDecodeError(`bad magic cookie 0x${cookie.toString(16)}`);

  const options = new Map<number, Buffer>();
  parseOptions(buf.subarray(HEADER + 4), options, 'options');
  // RFC 2132 §9.3 / RFC 3396 §5: with option 52 the file and/or sname fields carry options too,
  // read in the order options, file, sname; those fields then hold no names.
  const overload = options.get(Opt.Overload);
  let overloaded = 0;
  if (overload !== undefined) {
    if (overload.length !== 1 || overload[0] === undefined || overload[0] < 1 || overload[0] > 3) {
      throw new DhcpDecodeError('bad option overload (52) value');
    }
    overloaded = overload[0];
    if (overloaded & 1) parseOptions(buf.subarray(FILE_OFF, FILE_OFF + FILE_LEN), options, 'file');
    if (overloaded & 2) parseOptions(buf.subarray(SNAME_OFF, SNAME_OFF + SNAME_LEN), options, 'sname');
  }
  return {
    op,
    htype: buf.readUInt8(1),
    hlen,
    hops: buf.readUInt8(3),
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: intToIp(buf.readUInt32BE(12)),
    yiaddr: intToIp(buf.readUInt32BE(16)),
    siaddr: intToIp(buf.readUInt32BE(20)),
    giaddr: intToIp(buf.readUInt32BE(24)),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: overloaded & 2 ? '' : cString(buf.subarray(SNAME_OFF, SNAME_OFF + SNAME_LEN)),
    file: overloaded & 1 ? '' : cString(buf.subarray(FILE_OFF, FILE_OFF + FILE_LEN)),
    options,
  };
}

/** Parses code/length/value triples until End or the end of `field`; appends repeats (RFC 3396). */
function parseOptions(field: Buffer, into: Map<number, Buffer>, where: string): void {
  let i = 0;
  while (i < field.length) {
    const code = field[i] as number;
    if (code === Opt.End) return;
    if (code === Opt.Pad) {
      i += 1;
      continue;
    }
    const len = field[i + 1];
    if (len === undefined) throw new DhcpDecodeError(`option ${code} in ${where} has no length byte`);
    if (i + 2 + len > field.length) throw new DhcpDecodeError(`option ${code} in ${where} runs past the end (length ${len})`);
    const value = field.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i += 2 + len;
  }
  // A missing End option is tolerated: several PXE ROMs end the buffer without it.
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('latin1', 0, nul === -1 ? b.length : nul);
}

/**
 * Encodes a packet, at least MIN_PACKET bytes. Option 53 goes first (some PXE ROMs look for it
 * there), the rest in map order; values over 255 bytes are split into repeated options
 * (RFC 3396). `sname`/`file` longer than their fields (63/127 bytes + NUL) throw RangeError.
 */
export function encodePacket(p: DhcpPacket): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(HEADER + 4);
  header.writeUInt8(p.op, 0);
  header.writeUInt8(p.htype, 1);
  header.writeUInt8(p.hlen, 2);
  header.writeUInt8(p.hops, 3);
  header.writeUInt32BE(p.xid >>> 0, 4);
  header.writeUInt16BE(p.secs, 8);
  header.writeUInt16BE(p.flags, 10);
  header.writeUInt32BE(ipToInt(p.ciaddr), 12);
  header.writeUInt32BE(ipToInt(p.yiaddr), 16);
  header.writeUInt32BE(ipToInt(p.siaddr), 20);
  header.writeUInt32BE(ipToInt(p.giaddr), 24);
  p.chaddr.copy(header, 28, 0, Math.min(16, p.chaddr.length));
  writeField(header, p.sname, SNAME_OFF, SNAME_LEN, 'sname');
  writeField(header, p.file, FILE_OFF, FILE_LEN, 'file');
  header.writeUInt32BE(MAGIC_COOKIE, HEADER);
  parts.push(header);

  const ordered = [...p.options.entries()].sort(([a], [b]) => Number(b === Opt.MessageType) - Number(a === Opt.MessageType));
  for (const [code, value] of ordered) {
    if (code === Opt.Pad || code === Opt.End) continue;
    for (let off = 0; off < value.length || off === 0; off += 255) {
      const chunk = value.subarray(off, off + 255);
      parts.push(Buffer.from([code, chunk.length]), chunk);
      if (value.length === 0) break;
    }
  }
  parts.push(Buffer.from([Opt.End]));
  const out = Buffer.concat(parts);
  return out.length >= MIN_PACKET ? out : Buffer.concat([out, Buffer.alloc(MIN_PACKET - out.length)]);
}

function writeField(header: Buffer, text: string, offset: number, size: number, name: string): void {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length >= size) throw new RangeError(`${name} is ${bytes.length} bytes; at most ${size - 1} fit`);
  bytes.copy(header, offset);
}
