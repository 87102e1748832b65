/**
 * Full-mode message handling (RFC 2131 §4.3): the server owns the pool and answers every client.
 * Boot information comes only from the hook; a client the hook ignores still gets an address.
 */
import { inSubnet } from '../net/addr.js';
import { Opt, decodeIp } from './options.js';
import { buildReply, clientNetwork, type NetParams } from './reply.js';
import type { LeasePool } from './leases.js';
import type { AddressClaims } from './claims.js';
import type { BootAnswer, DhcpRequestInfo, Outcome } from './types.js';

export interface FullContext {
  /** The client's subnet: the server's own link, or the relayed subnet giaddr picked (src/dhcp/subnets.ts). */
  net: NetParams;
  /** That subnet's pool. */
  pool: LeasePool;
  leaseSeconds: number;
  boot: (req: DhcpRequestInfo) => BootAnswer | undefined;
  now: () => number;
  /** Several controllers on one LAN: each address is claimed in the shared store before it is offered or ACKed. */
  claims?: AddressClaims;
}

/** How many addresses a DISCOVER tries when other controllers hold the ones this pool picked. */
const CLAIM_ATTEMPTS = 16;

/** Decides the answer to one client message in full mode. */
export async function handleFull(req: DhcpRequestInfo, ctx: FullContext): Promise<Outcome> {
  switch (req.messageType) {
    case 'discover':
      return discover(req, ctx);
    case 'request':
      return request(req, ctx);
    case 'release': {
      // RFC 2131 §4.3.4: the address is in ciaddr; only the holder can release it.
      const ip = req.packet.ciaddr;
      if (!ctx.pool.release(req.mac, ip)) return { kind: 'drop', reason: `release of ${ip} which ${req.mac} does not hold` };
      await ctx.pool.saved();
      return { kind: 'done' };
    }
    case 'decline': {
      // RFC 2131 §4.3.3: option 50 names the address the client found in use.
      const ip = decodeIp(req.packet.options.get(Opt.RequestedIp));
      if (!ip || !ctx.pool.decline(req.mac, ip)) return { kind: 'drop', reason: `decline of ${ip ?? '(no option 50)'} not offered to ${req.mac}` };
      await ctx.pool.saved();
      return { kind: 'done' };
    }
    case 'inform': {
      // RFC 2131 §4.3.5: configuration only; no yiaddr, no lease time.
      const answer = ctx.boot(req);
      return { kind: 'reply', type: 'ack', packet: buildReply(req, 'ack', ctx.net, { config: true, answer }) };
    }
    default:
      return { kind: 'drop', reason: `${req.messageType} is a server message` };
  }
}

async function discover(req: DhcpRequestInfo, ctx: FullContext): Promise<Outcome> {
  const ip = await offerClaimed(req, ctx);
  if (ip === undefined) return { kind: 'drop', reason: 'address pool exhausted' };
  const answer = ctx.boot(req);
  let leaseSeconds = ctx.leaseSeconds;
  if (answer?.commitOnOffer) {
    // Pi 3B ROM: boots on the OFFER and never REQUESTs (docs/raspberry-pi.md §1), so bind now.
    const lease = ctx.pool.commit(req.mac, ip);
    if (lease && (await claimed(ctx, ip, req.mac, lease.expiresAt))) leaseSeconds = remaining(lease.expiresAt, ctx.now());
    else if (lease) return { kind: 'drop', reason: `${ip} was taken by another controller` };
  }
  await ctx.pool.saved();
  const packet = buildReply(req, 'offer', ctx.net, { yiaddr: ip, leaseSeconds, config: true, answer });
  return { kind: 'reply', type: 'offer', packet, ip };
}

/**
 * RFC 2131 §4.3.2. SELECTING (server id + option 50), INIT-REBOOT (option 50, no server id,
 * ciaddr 0), RENEWING/REBINDING (ciaddr, no option 50). A REQUEST naming another server is that
 * server's business: silence. Addresses outside our pool that we hold no record of are another
 * server's leases: silence too ("MUST remain silent" for unknown clients in INIT-REBOOT).
 */
async function request(req: DhcpRequestInfo, ctx: FullContext): Promise<Outcome> {
  const p = req.packet;
  const serverId = decodeIp(p.options.get(Opt.ServerId));
  if (serverId !== undefined && serverId !== ctx.net.serverAddress) {
    await withdrawOffer(req.mac, ctx);
    return { kind: 'drop', reason: `client chose server ${serverId}` };
  }
  const requested = decodeIp(p.options.get(Opt.RequestedIp));
  const ip = requested ?? (p.ciaddr !== '0.0.0.0' ? p.ciaddr : undefined);
  if (ip === undefined) return { kind: 'drop', reason: 'REQUEST with neither option 50 nor ciaddr' };

  const nak = (why: string): Outcome => ({ kind: 'reply', type: 'nak', packet: nakPacket(req, ctx, why), ip });
  if (!inSubnet(ip, clientNetwork(ctx.net), ctx.net.prefix)) return nak(`${ip} is not on this network`);
  const known = ctx.pool.leaseFor(req.mac) !== undefined;
  if (!ctx.pool.owns(ip) && serverId === undefined && !known) {
    return { kind: 'drop', reason: `${ip} is not ours and ${req.mac} is unknown` };
  }
  const lease = ctx.pool.commit(req.mac, ip);
  if (!lease) return nak(ctx.pool.owns(ip) ? `${ip} is not available to ${req.mac}` : `${ip} is not in our pool`);
  // RFC 2131 §4.3.2: a server that cannot give the requested address NAKs; the client starts over.
  if (!(await claimed(ctx, ip, req.mac, lease.expiresAt))) return nak(`${ip} is held through another controller`);
  await ctx.pool.saved();
  const answer = ctx.boot(req);
  const packet = buildReply(req, 'ack', ctx.net, {
    yiaddr: ip,
    leaseSeconds: remaining(lease.expiresAt, ctx.now()),
    config: true,
    answer,
  });
  return { kind: 'reply', type: 'ack', packet, ip };
}

/** The pool's offer, confirmed by a claim (ctx.claims); an address another controller holds is recorded and the next one tried. */
async function offerClaimed(req: DhcpRequestInfo, ctx: FullContext): Promise<string | undefined> {
  const requested = decodeIp(req.packet.options.get(Opt.RequestedIp));
  for (let i = 0; i < CLAIM_ATTEMPTS; i++) {
    const ip = ctx.pool.offer(req.mac, requested);
    if (ip === undefined) return undefined;
    const hold = ctx.pool.leaseFor(req.mac)?.expiresAt ?? ctx.now() + ctx.leaseSeconds * 1000;
    if (await claimed(ctx, ip, req.mac, hold)) return ip;
  }
  return undefined;
}

/**
 * The client took another server's offer (RFC 2131 §4.3.2: the REQUEST names that server, and
 * "servers not selected ... may reuse the addresses offered"). With shared claims ours is given
 * back at once; otherwise every client would hold one address per controller until the offers
 * expire, and a busy range runs dry.
 */
async function withdrawOffer(mac: string, ctx: FullContext): Promise<void> {
  if (!ctx.claims) return;
  const offered = ctx.pool.leaseFor(mac);
  if (offered?.state !== 'offered') return;
  ctx.pool.release(mac, offered.ip);
  await ctx.claims.release(offered.ip, mac);
}

/** True when no claims are kept or the claim succeeded; a refused one is recorded in the pool. */
async function claimed(ctx: FullContext, ip: string, mac: string, until: number): Promise<boolean> {
  if (!ctx.claims) return true;
  const r = await ctx.claims.claim(ip, mac, until);
  if (!r.ok) ctx.pool.heldElsewhere(ip, r.until);
  return r.ok;
}

function nakPacket(req: DhcpRequestInfo, ctx: FullContext, why: string) {
  const packet = buildReply(req, 'nak', ctx.net, {});
  packet.options.set(Opt.Message, Buffer.from(why, 'latin1')); // RFC 2132 §9.9
  return packet;
}

function remaining(expiresAt: number, now: number): number {
  return Math.max(0, Math.round((expiresAt - now) / 1000));
}
