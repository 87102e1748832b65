/**
 * DHCP option codes, message types and value codecs (RFC 2132, RFC 3004, RFC 4578, PXE 2.1).
 * Every other module names options through `Opt`; bare option numbers appear only here.
 */
import { ipToInt, intToIp } from '../net/addr.js';

/** Option codes used by bootfleet. RFC 2132 unless noted. */
export const Opt = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DnsServers: 6,
  Hostname: 12,
  DomainName: 15,
  BroadcastAddress: 28,
  VendorSpecific: 43,
  RequestedIp: 50,
  LeaseTime: 51,
  /** 1 = options continue in `file`, 2 = in `sname`, 3 = both (RFC 2132 §9.3). */
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClass: 60,
  ClientId: 61,
  TftpServerName: 66,
  BootfileName: 67,
  /** RFC 3004: a list of length-prefixed opaque strings (iPXE sends a bare "iPXE" instead). */
  UserClass: 77,
  /** RFC 4578 §2.1: client system architecture (0 = BIOS, 7 = EFI x64, 11 = EFI arm64, ...). */
  ClientArch: 93,
  /** RFC 4578 §2.2: network interface identifier (UNDI version). */
  ClientNdi: 94,
  /** RFC 4578 §2.3: client machine identifier (UUID/GUID); the Pi puts its serial here. */
  ClientUuid: 97,
  /** iPXE's encapsulated options (sub-option 176 = no-pxedhcp, ...). */
  IpxeEncap: 175,
  End: 255,
} as const;
export type OptCode = (typeof Opt)[keyof typeof Opt];

/** Sub-options inside `Opt.IpxeEncap` (iPXE include/ipxe/dhcp.h). */
export const IpxeSubOpt = {
  /** 1 = skip waiting for ProxyDHCP offers (docs/boot-flow.md "Boot speed"). */
  NoPxeDhcp: 176,
} as const;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];
export type MessageTypeName = 'discover' | 'offer' | 'request' | 'decline' | 'ack' | 'nak' | 'release' | 'inform';

const TYPE_NAMES: Record<number, MessageTypeName> = {
  1: 'discover', 2: 'offer', 3: 'request', 4: 'decline', 5: 'ack', 6: 'nak', 7: 'release', 8: 'inform',
};

/** Lowercase name of a message type, or undefined for codes RFC 2132 does not define. */
export function messageTypeName(code: number): MessageTypeName | undefined {
  return TYPE_NAMES[code];
}

/* ---- encoders: value -> option payload ---- */

export function encodeIp(ip: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ipToInt(ip));
  return b;
}

export function encodeIps(ips: readonly string[]): Buffer {
  return Buffer.concat(ips.map(encodeIp));
}

export function encodeU8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}

export function encodeU16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function encodeU32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** ASCII/UTF-8 string without a trailing NUL (RFC 2132 §2: options are not NUL-terminated). */
export function encodeString(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/**
 * Encapsulated sub-options (code, length, value triples) for options 43 and 175, with a
 * trailing End (255) as PXE 2.1 §2.2.6 and the Pi ROM expect. Values over 255 bytes throw.
 */
export function encodeSubOptions(subs: ReadonlyArray<readonly [number, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of subs) {
    if (value.length > 255) throw new RangeError(`sub-option ${code} is ${value.length} bytes; the maximum is 255`);
    parts.push(Buffer.from([code, value.length]), value);
  }
  parts.push(Buffer.from([Opt.End]));
  return Buffer.concat(parts);
}

/* ---- decoders: option payload -> value; undefined when the payload has the wrong shape ---- */

export function decodeIp(b: Buffer | undefined): string | undefined {
  return b?.length === 4 ? intToIp(b.readUInt32BE(0)) : undefined;
}

export function decodeIps(b: Buffer | undefined): string[] | undefined {
  if (!b || b.length === 0 || b.length % 4 !== 0) return undefined;
  const ips: string[] = [];
  for (let i = 0; i < b.length; i += 4) ips.push(intToIp(b.readUInt32BE(i)));
  return ips;
}

export function decodeU8(b: Buffer | undefined): number | undefined {
  return b?.length === 1 ? b[0] : undefined;
}

export function decodeU16(b: Buffer | undefined): number | undefined {
  return b?.length === 2 ? b.readUInt16BE(0) : undefined;
}

export function decodeU32(b: Buffer | undefined): number | undefined {
  return b?.length === 4 ? b.readUInt32BE(0) : undefined;
}

/** Text option; trailing NULs (sent by some firmware despite RFC 2132 §2) are stripped. */
export function decodeString(b: Buffer | undefined): string | undefined {
  return b === undefined ? undefined : b.toString('latin1').replace(/\0+$/, '');
}

/**
 * Option 77. RFC 3004 §4 encodes a list of length-prefixed strings; iPXE (and old ISC
 * clients) send one bare string such as "iPXE". The payload is taken as RFC 3004 when the
 * length prefixes exactly tile it, otherwise as one bare string.
 */
export function decodeUserClass(b: Buffer | undefined): string[] | undefined {
  if (!b || b.length === 0) return undefined;
  const items: string[] = [];
  let i = 0;
  while (i < b.length) {
    const len = b[i] ?? 0;
    if (len === 0 || i + 1 + len > b.length) return [decodeString(b) ?? ''];
    items.push(b.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return items;
}

/** Option 93 (RFC 4578 §2.1): a list of u16; the first is the architecture the client runs. */
export function decodeClientArch(b: Buffer | undefined): number | undefined {
  return b && b.length >= 2 && b.length % 2 === 0 ? b.readUInt16BE(0) : undefined;
}
