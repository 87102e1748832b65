/**
 * Many DHCP clients booting at once through several full-mode servers' handlers (src/dhcp/full.ts)
 * in one process: real packets, real pools and claims, a simulated wire. Each broadcast reaches
 * every server after its own small random delay (fixed seed), so the servers see clients in
 * different orders as on a real LAN; a client takes one of the offers, REQUESTs it (every server
 * sees the REQUEST), and starts over after a NAK or no offer, waiting a little as RFC 2131 §4.1
 * asks. Used by test/dhcp/claims-lab.test.ts and `npm run bench -- scale`.
 */
import { handleFull, type FullContext } from '../dhcp/full.js';
import { encodePacket, decodePacket, BootOp, BROADCAST_FLAG } from '../dhcp/packet.js';
import { Opt, MessageType, encodeIp, encodeU8, type MessageTypeCode } from '../dhcp/options.js';
import { requestInfo } from '../dhcp/request-info.js';
import type { DhcpRequestInfo, Outcome } from '../dhcp/types.js';
import { macToBytes } from '../net/addr.js';

/** A fixed-seed PRNG (mulberry32): the same delays every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function packet(type: MessageTypeCode, mac: string, opts: { requested?: string; serverId?: string } = {}): Buffer {
  const options = new Map<number, Buffer>([[Opt.MessageType, encodeU8(type)]]);
  if (opts.requested) options.set(Opt.RequestedIp, encodeIp(opts.requested));
  if (opts.serverId) options.set(Opt.ServerId, encodeIp(opts.serverId));
  const chaddr = Buffer.alloc(16);
  macToBytes(mac).copy(chaddr);
  return encodePacket({
    op: BootOp.Request, htype: 1, hlen: 6, hops: 0, xid: 0x1000, secs: 0, flags: BROADCAST_FLAG,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options,
  });
}

function info(buf: Buffer): DhcpRequestInfo {
  const r = requestInfo(decodePacket(buf), 67, { address: '0.0.0.0', port: 68 });
  if (!r) throw new Error('not a client message');
  return r;
}

/** The i-th simulated MAC. */
export function simMac(i: number): string {
  return `52:54:00:cc:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
}

/** `clients` booting at once through `servers`: MAC → the address ACKed (undefined: none after `rounds` tries). */
export async function simulateFleet(servers: FullContext[], clients: number, opts: { seed?: number; rounds?: number; onError?: (err: unknown) => void } = {}): Promise<Map<string, string | undefined>> {
  const random = prng(opts.seed ?? 12);
  const deliver = async (server: FullContext, p: Buffer): Promise<Outcome> => {
    await new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
    try {
      return await handleFull(info(p), server);
    } catch (err) {
      // As DhcpServer does: a message that fails (the store did not answer) goes unanswered.
      opts.onError?.(err);
      return { kind: 'drop', reason: 'failed' };
    }
  };
  const boot = async (mac: string, pick: number): Promise<string | undefined> => {
    // A real client never gives up; `rounds` is a hang guard.
    for (let attempt = 0; attempt < (opts.rounds ?? 20); attempt++) {
      // RFC 2131 §4.1: wait before trying again (4 s, 8 s …; shortened here).
      if (attempt > 0) await new Promise((r) => setTimeout(r, 500 * Math.min(attempt, 4)));
      const answers = await Promise.all(servers.map((s) => deliver(s, packet(MessageType.Discover, mac))));
      const offers = answers.flatMap((o, i) => (o.kind === 'reply' && o.type === 'offer' && o.ip ? [{ ip: o.ip, server: servers[i] as FullContext }] : []));
      const chosen = offers[(pick + attempt) % Math.max(1, offers.length)];
      if (!chosen) continue;
      const request = packet(MessageType.Request, mac, { requested: chosen.ip, serverId: chosen.server.net.serverAddress });
      const acks = await Promise.all(servers.map((s) => deliver(s, request)));
      const ack = acks.find((o) => o.kind === 'reply' && o.type === 'ack');
      if (ack?.kind === 'reply') return ack.ip;
    }
    return undefined;
  };
  const macs = Array.from({ length: clients }, (_, i) => simMac(i));
  const got = await Promise.all(macs.map((mac, i) => boot(mac, i)));
  return new Map(macs.map((mac, i) => [mac, got[i]]));
}

/** How many addresses were given to more than one client (each extra holder counts once). */
export function duplicateAddresses(addresses: Iterable<string | undefined>): number {
  const seen = new Set<string>();
  let dup = 0;
  for (const ip of addresses) {
    if (ip === undefined) continue;
    if (seen.has(ip)) dup++;
    seen.add(ip);
  }
  return dup;
}
