/**
 * Asks whether another DHCP server answers on one interface (`bootfleet init` and `doctor`):
 * one plain DHCPDISCOVER (no PXE options: a proxyDHCP server stays silent, as it should) from
 * port 68 of a socket pinned to that interface with SO_BINDTODEVICE (socket.ts), so nothing is
 * ever sent or heard on another network. Collects the OFFERs for its transaction id for
 * `listenMs`. No REQUEST follows, so no lease is taken; a server may hold the offered address
 * for a short while (RFC 2131 §4.3.1 leaves that to the server). Reports what it heard; what that
 * means for the configuration is decided by the caller.
 */
import { randomInt } from 'node:crypto';
import { BootfleetError } from '../errors.js';
import { macToBytes } from '../net/addr.js';
import { openInterfaceSocket, sendTo } from './socket.js';
import { encodePacket, decodePacket, BootOp, BROADCAST_FLAG, DhcpDecodeError } from './packet.js';
import { Opt, MessageType, encodeU8, decodeIp, decodeString } from './options.js';

export interface DhcpOffer {
  /** The server's identifier (option 54), else the datagram's source address. */
  server: string;
  /** The address it offered (yiaddr). */
  offered: string;
  /** Option 60 of the offer: `PXEClient` when the server also boots PXE clients. */
  vendorClass?: string;
}

export interface ProbeOptions {
  interface: string;
  /** The hardware address the DISCOVER carries: the interface's own. */
  mac: string;
  /**
   * How long to listen for offers; default 4000 ms. Servers check an address is unused before
   * offering it (busybox udhcpd ARP-pings for up to 2 s, ISC dhcpd pings for 1 s, dnsmasq pings
   * too), so an offer can take over 2 s to come.
   */
  listenMs?: number;
}

/** The DISCOVER a plain client sends (RFC 2131 §4.4.1), with the broadcast flag so offers are broadcast back. */
export function discoverPacket(mac: string, xid: number): Buffer {
  const chaddr = Buffer.alloc(16);
  macToBytes(mac).copy(chaddr);
  return encodePacket({
    op: BootOp.Request, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: BROADCAST_FLAG,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '',
    options: new Map([
      [Opt.MessageType, encodeU8(MessageType.Discover)],
      [Opt.ParameterRequestList, Buffer.from([Opt.SubnetMask, Opt.Router, Opt.DnsServers, Opt.LeaseTime, Opt.ServerId])],
    ]),
  });
}

/** The offer a reply carries for transaction `xid`, or undefined (not an OFFER, another xid, malformed). */
export function offerOf(msg: Buffer, xid: number, source: string): DhcpOffer | undefined {
  let p;
  try {
    p = decodePacket(msg);
  } catch (err) {
    if (err instanceof DhcpDecodeError) return undefined;
    throw err;
  }
  if (p.op !== BootOp.Reply || p.xid !== xid || p.options.get(Opt.MessageType)?.[0] !== MessageType.Offer) return undefined;
  const vendorClass = decodeString(p.options.get(Opt.VendorClass));
  return { server: decodeIp(p.options.get(Opt.ServerId)) ?? source, offered: p.yiaddr, ...(vendorClass ? { vendorClass } : {}) };
}

/**
 * Sends the DISCOVER (twice, half a second apart, in case one is lost) and returns one offer per
 * server heard. Throws ERR_BIND_FAILED when port 68 on the interface cannot be opened (a DHCP
 * client holds it, or no privileges): the message says which.
 */
export async function probeDhcpServers(opts: ProbeOptions): Promise<DhcpOffer[]> {
  const socket = await openInterfaceSocket(opts.interface, 68).catch((err: unknown) => {
    const why = err instanceof BootfleetError ? err.message : String(err);
    throw new BootfleetError('ERR_BIND_FAILED', `cannot ask for DHCP offers on ${opts.interface}: ${why}`, { cause: err });
  });
  const xid = randomInt(1, 0x7fffffff);
  const offers = new Map<string, DhcpOffer>();
  socket.on('message', (msg, rinfo) => {
    const offer = offerOf(msg, xid, rinfo.address);
    if (offer && !offers.has(offer.server)) offers.set(offer.server, offer);
  });
  try {
    const packet = discoverPacket(opts.mac, xid);
    await sendTo(socket, packet, 67, '255.255.255.255');
    await sleep(500);
    await sendTo(socket, packet, 67, '255.255.255.255');
    await sleep(Math.max(0, (opts.listenMs ?? 4000) - 500));
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  return [...offers.values()];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
