/** Building server replies (RFC 2131 §4.3.1 table 3) and choosing where they go (§4.1). */
import { inSubnet } from '../net/addr.js';
import { BROADCAST_FLAG, BootOp, type DhcpPacket } from './packet.js';
import { Opt, MessageType, encodeIp, encodeIps, encodeString, encodeU32, encodeU8 } from './options.js';
import type { BootAnswer, DhcpRequestInfo } from './types.js';

/** The network settings every reply may carry. */
export interface NetParams {
  /** Ours: option 54, and the subnet of the local link. */
  serverAddress: string;
  /**
   * The client's subnet when it is not the server's own link (a subnet behind a DHCP relay,
   * src/dhcp/subnets.ts): any of its addresses. Default serverAddress. subnetMask/prefix are
   * that subnet's.
   */
  network?: string;
  subnetMask: string;
  prefix: number;
  router?: string;
  dns: readonly string[];
  domain?: string;
}

export type ReplyType = 'offer' | 'ack' | 'nak';
const TYPE_CODE = { offer: MessageType.Offer, ack: MessageType.Ack, nak: MessageType.Nak } as const;

/**
 * A reply to `req`. `leaseSeconds` adds options 51/58/59 (T1 = 50 %, T2 = 87.5 %, RFC 2131
 * §4.4.5); `config` adds mask/router/DNS/domain; `answer` is merged last and wins on conflicts.
 * Option order follows the client's option 55 where it asks, the rest after (RFC 2131 §4.3.1
 * lets the server order freely; some PXE ROMs read only the first options they asked for).
 */
export function buildReply(
  req: DhcpRequestInfo,
  type: ReplyType,
  net: NetParams,
  fields: { yiaddr?: string; leaseSeconds?: number; config?: boolean; answer?: BootAnswer },
): DhcpPacket {
  const p = req.packet;
  const opts = new Map<number, Buffer>();
  opts.set(Opt.MessageType, encodeU8(TYPE_CODE[type]));
  opts.set(Opt.ServerId, encodeIp(net.serverAddress));
  if (fields.leaseSeconds !== undefined) {
    opts.set(Opt.LeaseTime, encodeU32(fields.leaseSeconds));
    opts.set(Opt.RenewalTime, encodeU32(Math.floor(fields.leaseSeconds / 2)));
    opts.set(Opt.RebindingTime, encodeU32(Math.floor((fields.leaseSeconds * 7) / 8)));
  }
  if (fields.config) {
    opts.set(Opt.SubnetMask, encodeIp(net.subnetMask));
    if (net.router) opts.set(Opt.Router, encodeIp(net.router));
    if (net.dns.length > 0) opts.set(Opt.DnsServers, encodeIps(net.dns));
    if (net.domain) opts.set(Opt.DomainName, encodeString(net.domain));
  }
  for (const [code, value] of fields.answer?.options ?? []) opts.set(code, value);
  const nak = type === 'nak';
  return {
    op: BootOp.Reply,
    htype: p.htype,
    hlen: p.hlen,
    hops: 0,
    xid: p.xid,
    secs: 0,
    // RFC 2131 §4.3.2: a NAK through a relay sets the broadcast bit so the relay broadcasts it.
    flags: nak && req.relayed ? p.flags | BROADCAST_FLAG : p.flags,
    ciaddr: type === 'ack' ? p.ciaddr : '0.0.0.0',
    yiaddr: nak ? '0.0.0.0' : (fields.yiaddr ?? '0.0.0.0'),
    siaddr: nak ? '0.0.0.0' : (fields.answer?.siaddr ?? '0.0.0.0'),
    giaddr: p.giaddr,
    chaddr: p.chaddr,
    sname: nak ? '' : (fields.answer?.sname ?? ''),
    file: nak ? '' : (fields.answer?.file ?? ''),
    options: orderByRequest(opts, p.options.get(Opt.ParameterRequestList)),
  };
}

function orderByRequest(opts: Map<number, Buffer>, prl: Buffer | undefined): Map<number, Buffer> {
  if (!prl) return opts;
  const out = new Map<number, Buffer>();
  const type = opts.get(Opt.MessageType);
  if (type) out.set(Opt.MessageType, type);
  for (const code of prl) {
    const v = opts.get(code);
    if (v) out.set(code, v);
  }
  for (const [code, v] of opts) if (!out.has(code)) out.set(code, v);
  return out;
}

/** The client subnet's network address part (`net.network`, else the server's own link). */
export function clientNetwork(net: NetParams): string {
  return net.network ?? net.serverAddress;
}

/**
 * Where a reply goes (RFC 2131 §4.1): relayed → giaddr:67 (only when giaddr is on the client's
 * subnet, `net`: a relay for a subnet in dhcp.relays, or one on our own link);
 * NAK, ciaddr 0 or broadcast flag → 255.255.255.255:68 (we cannot unicast to a client without
 * an ARP entry for yiaddr); else ciaddr:68. `unicastToSource` is the PXE 2.1 port-4011 case:
 * straight back to the UDP source.
 */
export function replyDestination(
  req: DhcpRequestInfo,
  type: ReplyType,
  net: NetParams,
  unicastToSource = false,
): { address: string; port: number } | { drop: string } {
  const p = req.packet;
  if (unicastToSource) return req.source;
  if (req.relayed) {
    if (!inSubnet(p.giaddr, clientNetwork(net), net.prefix)) return { drop: `relay agent ${p.giaddr} is not on ${clientNetwork(net)}/${net.prefix}` };
    return { address: p.giaddr, port: 67 };
  }
  if (type === 'nak' || p.ciaddr === '0.0.0.0' || (p.flags & BROADCAST_FLAG) !== 0) return { address: '255.255.255.255', port: 68 };
  return { address: p.ciaddr, port: 68 };
}
