/**
 * The DHCP side of the wire simulator (src/lab/sim-clients.ts): many simulated PXE BIOS clients
 * sharing ONE UDP socket on port 68, each with its own chaddr and transaction ids. Replies are
 * matched to their client by xid (RFC 2131 §4.1: the client picks the xid and the server copies
 * it). Every message is broadcast with the broadcast flag set, as a client without an address
 * does (RFC 2131 §4.1), so the servers broadcast their replies back.
 */
import type dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { encodePacket, decodePacket, BootOp, BROADCAST_FLAG, type DhcpPacket } from '../dhcp/packet.js';
import { Opt, MessageType, encodeIp, encodeU8, encodeU16, decodeIp, decodeString, decodeU8, type MessageTypeCode } from '../dhcp/options.js';
import { sendTo } from '../dhcp/socket.js';
import { macToBytes } from '../net/addr.js';

/** What a simulated node got from DHCP. */
export interface DhcpResult {
  ip: string;
  /** Option 54 of the ACK: the controller that answered. */
  server: string;
  /** Boot file (the `file` field, else option 67) and where to fetch it (siaddr, else the server). */
  file: string;
  tftpServer: string;
  /** DISCOVERs sent before the ACK (1 = first try). */
  discovers: number;
  naks: number;
}

/** Client retransmission: RFC 2131 §4.1 waits 4 s, 8 s … ±1 s; `firstTimeoutMs` scales that. */
export interface RetryPolicy {
  firstTimeoutMs: number;
  /** Messages sent per exchange before starting over (DISCOVER) or giving up. */
  tries: number;
  /** Whole DISCOVER rounds before this node is reported as not booted (a hang guard: real ROMs never stop). */
  rounds: number;
}

// What a PXE 2.1 BIOS ROM sends (PXE spec 2.1 §2.2.1; RFC 4578): option 60 naming arch 0 and
// UNDI 2.1, option 93 = 0 (x86 BIOS), option 94 UNDI 2.1, option 97 a type-0 GUID. The controller
// classifies this as 'bios' (src/boot/firmware.ts) and offers its iPXE loader over TFTP.
const VENDOR_CLASS = Buffer.from('PXEClient:Arch:00000:UNDI:002001', 'latin1');
const PARAMS = Buffer.from([1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]);

type Waiter = (p: DhcpPacket) => void;

export class DhcpClients {
  private readonly waiters = new Map<number, Waiter>();

  constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg) => {
      let p: DhcpPacket;
      try {
        p = decodePacket(msg);
      } catch {
        return; // not a DHCP reply we can read: a real client ignores it too
      }
      if (p.op === BootOp.Reply) this.waiters.get(p.xid)?.(p);
    });
  }

  /** DISCOVER → first OFFER → REQUEST → ACK for `mac`, starting over after a NAK or silence. */
  async acquire(mac: string, retry: RetryPolicy): Promise<DhcpResult | { failed: string }> {
    let naks = 0;
    let last = 'no offer';
    for (let round = 1; round <= retry.rounds; round++) {
      // RFC 2131 §3.1 / §4.1: a new xid per attempt; after a NAK wait a little before DISCOVER.
      if (round > 1) await sleep(Math.min(retry.firstTimeoutMs * 2 ** (round - 2), 8 * retry.firstTimeoutMs) * (0.5 + Math.random()));
      const xid = this.newXid();
      try {
        const offer = await this.exchange(xid, this.packet(MessageType.Discover, mac, xid), (p) => typeOf(p) === MessageType.Offer, retry);
        if (!offer) continue;
        const server = decodeIp(offer.options.get(Opt.ServerId));
        if (!server) {
          last = 'offer without option 54';
          continue;
        }
        const req = this.packet(MessageType.Request, mac, xid, { requested: offer.yiaddr, serverId: server });
        // Only the chosen server answers a SELECTING REQUEST (RFC 2131 §4.3.2).
        const reply = await this.exchange(xid, req, (p) => decodeIp(p.options.get(Opt.ServerId)) === server && [MessageType.Ack, MessageType.Nak].includes(typeOf(p) as 5 | 6), retry);
        if (!reply) {
          last = `no ACK from ${server}`;
          continue;
        }
        if (typeOf(reply) === MessageType.Nak) {
          naks++;
          last = `NAK from ${server}: ${decodeString(reply.options.get(Opt.Message)) ?? ''}`;
          continue;
        }
        const file = reply.file || decodeString(reply.options.get(Opt.BootfileName)) || '';
        const tftpServer = reply.siaddr !== '0.0.0.0' ? reply.siaddr : server;
        return { ip: reply.yiaddr, server, file, tftpServer, discovers: round, naks };
      } finally {
        this.waiters.delete(xid);
      }
    }
    return { failed: `${last} after ${retry.rounds} rounds` };
  }

  /** Sends `packet`, resends on silence (doubling the wait), resolves with the first reply `match` accepts. */
  private async exchange(xid: number, packet: Buffer, match: (p: DhcpPacket) => boolean, retry: RetryPolicy): Promise<DhcpPacket | undefined> {
    let got: DhcpPacket | undefined;
    let wake: (() => void) | undefined;
    this.waiters.set(xid, (p) => {
      if (got || !match(p)) return;
      got = p;
      wake?.();
    });
    for (let i = 0; i < retry.tries && !got; i++) {
      await sendTo(this.socket, packet, 67, '255.255.255.255');
      const wait = retry.firstTimeoutMs * 2 ** i * (0.75 + Math.random() / 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (got) wake();
      });
    }
    return got;
  }

  private newXid(): number {
    let xid: number;
    do xid = randomInt(1, 0xffffffff);
    while (this.waiters.has(xid));
    return xid;
  }

  private packet(type: MessageTypeCode, mac: string, xid: number, opts: { requested?: string; serverId?: string } = {}): Buffer {
    const options = new Map<number, Buffer>([[Opt.MessageType, encodeU8(type)]]);
    if (opts.requested) options.set(Opt.RequestedIp, encodeIp(opts.requested));
    if (opts.serverId) options.set(Opt.ServerId, encodeIp(opts.serverId));
    options.set(Opt.MaxMessageSize, encodeU16(1260));
    options.set(Opt.ParameterRequestList, PARAMS);
    options.set(Opt.VendorClass, VENDOR_CLASS);
    options.set(Opt.ClientArch, encodeU16(0));
    options.set(Opt.ClientNdi, Buffer.from([1, 2, 1]));
    options.set(Opt.ClientUuid, Buffer.concat([Buffer.from([0]), Buffer.from(mac.replaceAll(':', '').padEnd(32, '0'), 'hex')]));
    const chaddr = Buffer.alloc(16);
    macToBytes(mac).copy(chaddr);
    return encodePacket({
      op: BootOp.Request, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: BROADCAST_FLAG,
      ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options,
    });
  }
}

function typeOf(p: DhcpPacket): number | undefined {
  return decodeU8(p.options.get(Opt.MessageType));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
