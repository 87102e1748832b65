/**
 * Router Solicitation / Router Advertisement codec and validation (RFC 4861 §4.1, §4.2, §6.1).
 * The ICMPv6 checksum is left 0: the kernel fills it in on raw ICMPv6 sockets (RFC 3542 §3.1).
 */

export const ICMP6_ROUTER_SOLICIT = 133;
export const ICMP6_ROUTER_ADVERT = 134;
/** RFC 4861 §6.1: ND messages must arrive with IPv6 hop limit 255 (proves they are on-link). */
export const ND_HOP_LIMIT = 255;
export const ALL_ROUTERS = 'ff02::2';
export const ALL_NODES = 'ff02::1';
const OPT_SOURCE_LINK_LAYER = 1;

export type RsCheck = { ok: true } | { ok: false; reason: string };

/**
 * RFC 4861 §6.1.1 validity checks a router applies to a received RS (the checksum is checked by
 * the kernel): hop limit 255, code 0, at least 8 bytes, every option with a non-zero length that
 * fits, and no source link-layer address option when the source is unspecified (::).
 */
export function checkRouterSolicitation(payload: Buffer, hopLimit: number, source: string): RsCheck {
  if (hopLimit !== ND_HOP_LIMIT) return { ok: false, reason: `hop limit ${hopLimit}, not 255` };
  if (payload.length < 8) return { ok: false, reason: `${payload.length} bytes, less than 8` };
  if (payload[0] !== ICMP6_ROUTER_SOLICIT) return { ok: false, reason: `ICMPv6 type ${payload[0]}` };
  if (payload[1] !== 0) return { ok: false, reason: `ICMP code ${payload[1]}` };
  for (let i = 8; i < payload.length; ) {
    const type = payload[i];
    const len = payload[i + 1];
    if (len === undefined || len === 0) return { ok: false, reason: 'option with length 0' };
    if (i + len * 8 > payload.length) return { ok: false, reason: 'option runs past the end' };
    if (type === OPT_SOURCE_LINK_LAYER && isUnspecified(source)) return { ok: false, reason: 'source link-layer option from ::' };
    i += len * 8;
  }
  return { ok: true };
}

export interface RouterAdvertFields {
  /** Cur Hop Limit for the host's own packets; 0 = unspecified. */
  curHopLimit: number;
  /** M flag: addresses via DHCPv6. */
  managed: boolean;
  /** O flag: other configuration via DHCPv6. */
  other: boolean;
  /** Seconds; 0 = "not a default router" (RFC 4861 §4.2). */
  routerLifetime: number;
  /** Milliseconds; 0 = unspecified. */
  reachableTime: number;
  /** Milliseconds; 0 = unspecified. */
  retransTimer: number;
}

/** The "nothing to see here" RA of docs/boot-flow.md "Boot speed": no router, no prefix, M=O=0. */
export const NULL_ADVERT: RouterAdvertFields = { curHopLimit: 0, managed: false, other: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0 };

/** Encodes an RA (RFC 4861 §4.2) with no options. */
export function encodeRouterAdvert(f: RouterAdvertFields): Buffer {
  const b = Buffer.alloc(16);
  b[0] = ICMP6_ROUTER_ADVERT;
  b[1] = 0;
  b[4] = f.curHopLimit;
  b[5] = (f.managed ? 0x80 : 0) | (f.other ? 0x40 : 0);
  b.writeUInt16BE(f.routerLifetime, 6);
  b.writeUInt32BE(f.reachableTime, 8);
  b.writeUInt32BE(f.retransTimer, 12);
  return b;
}

/** Decodes an RA's fixed part and option types; undefined if it is not an RA. */
export function decodeRouterAdvert(b: Buffer): (RouterAdvertFields & { optionTypes: number[] }) | undefined {
  if (b.length < 16 || b[0] !== ICMP6_ROUTER_ADVERT || b[1] !== 0) return undefined;
  const optionTypes: number[] = [];
  for (let i = 16; i + 1 < b.length && (b[i + 1] ?? 0) > 0; i += (b[i + 1] ?? 0) * 8) optionTypes.push(b[i] ?? 0);
  const flags = b[5] ?? 0;
  return {
    curHopLimit: b[4] ?? 0,
    managed: (flags & 0x80) !== 0,
    other: (flags & 0x40) !== 0,
    routerLifetime: b.readUInt16BE(6),
    reachableTime: b.readUInt32BE(8),
    retransTimer: b.readUInt32BE(12),
    optionTypes,
  };
}

/** Encodes an RS (RFC 4861 §4.1) without options, as a host with no address yet would send it. */
export function encodeRouterSolicit(): Buffer {
  const b = Buffer.alloc(8);
  b[0] = ICMP6_ROUTER_SOLICIT;
  return b;
}

/** True for the unspecified address. Addresses from the addon come from inet_ntop, so :: is canonical. */
export function isUnspecified(addr: string): boolean {
  return addr === '::';
}
