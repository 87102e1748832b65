/**
 * The DHCP server: sockets, lifecycle, counters and events. What to answer is decided in
 * full.ts / proxy.ts; boot policy comes only from the injected BootHook.
 */
import type dgram from 'node:dgram';
import { BootfleetError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { ipToInt, isIPv4, prefixToMask } from '../net/addr.js';
import { Opt, decodeIp } from './options.js';
import { decodePacket, encodePacket, DhcpDecodeError } from './packet.js';
import { openInterfaceSocket, sendTo } from './socket.js';
import { requestInfo } from './request-info.js';
import { replyDestination, type NetParams } from './reply.js';
import { handleFull } from './full.js';
import type { AddressClaims } from './claims.js';
import { handleProxy } from './proxy.js';
import type { LeasePool } from './leases.js';
import { chooseSubnet, type Subnet } from './subnets.js';
import type { BootHook, DhcpEvent, DhcpRequestInfo, DhcpStats, Outcome } from './types.js';

export interface DhcpServerOptions {
  /** The ONE interface to serve (SO_BINDTODEVICE): nothing is received or sent elsewhere. */
  interface: string;
  /** Our address on that interface: option 54 and the subnet for relays/REQUEST checks. */
  serverAddress: string;
  subnetMask: string;
  /** full: hand out addresses from `pool`; proxy: boot info only (PXE 2.1 proxyDHCP). */
  mode: 'full' | 'proxy';
  /** Required in full mode. */
  pool?: LeasePool;
  /** Full mode beside other controllers: addresses claimed in the shared store first (src/dhcp/claims.ts). */
  claims?: AddressClaims;
  router?: string;
  dns: string[];
  domain?: string;
  /**
   * Subnets behind DHCP relay agents (full mode only): a message whose giaddr lies in one is
   * leased from its pool and answered to giaddr:67 (src/dhcp/subnets.ts, docs/networks.md).
   */
  relays?: RelayedSubnet[];
  /** Lease time offered (option 51); build `pool` with the same value. */
  leaseSeconds: number;
  boot: BootHook;
  log: Logger;
  onEvent?: (e: DhcpEvent) => void;
  /** Server port, default 67. */
  port?: number;
  /** PXE boot-server port used in proxy mode, default 4011. */
  proxyPort?: number;
  /** Clock in epoch ms (tests). */
  now?: () => number;
}

/** One subnet served through relay agents: its own pool, mask, router and DNS servers. */
export interface RelayedSubnet {
  /** The subnet's network address, e.g. 198.19.1.0. */
  network: string;
  prefix: number;
  pool: LeasePool;
  router: string;
  dns: string[];
}

/** A subnet as the server answers on it: the reply parameters and the pool (none in proxy mode). */
interface Served extends Subnet {
  net: NetParams;
  pool: LeasePool | undefined;
}

export class DhcpServer {
  private sockets: dgram.Socket[] = [];
  private readonly counters: DhcpStats = { received: 0, malformed: 0, dropped: 0, replied: 0 };
  private readonly net: NetParams;
  private readonly port: number;
  private readonly proxyPort: number;
  private readonly log: Logger;
  private readonly local: Served;
  private readonly relayed: Served[];
  /** Messages from relay agents of no configured subnet, and when that was last logged (performance.now()). */
  private readonly unknownRelays = { count: 0, lastLog: -Infinity };

  constructor(private readonly opts: DhcpServerOptions) {
    if (!isIPv4(opts.serverAddress) || !isIPv4(opts.subnetMask)) {
      throw new BootfleetError('ERR_CONFIG_INVALID', `dhcp: serverAddress ${opts.serverAddress} / subnetMask ${opts.subnetMask} must be IPv4`);
    }
    if (opts.mode === 'full' && !opts.pool) throw new BootfleetError('ERR_CONFIG_INVALID', 'dhcp: full mode needs a lease pool (dhcp.range)');
    if (opts.mode !== 'full' && (opts.relays ?? []).length > 0) throw new BootfleetError('ERR_CONFIG_INVALID', 'dhcp.relays: relayed subnets need dhcp.mode full');
    this.net = {
      serverAddress: opts.serverAddress,
      subnetMask: opts.subnetMask,
      prefix: maskToPrefix(opts.subnetMask),
      router: opts.router,
      dns: opts.dns,
      domain: opts.domain,
    };
    this.local = { network: opts.serverAddress, prefix: this.net.prefix, net: this.net, pool: opts.pool };
    this.relayed = (opts.relays ?? []).map((r) => ({
      network: r.network,
      prefix: r.prefix,
      pool: r.pool,
      net: { ...this.net, network: r.network, prefix: r.prefix, subnetMask: prefixToMask(r.prefix), router: r.router, dns: r.dns },
    }));
    this.port = opts.port ?? 67;
    this.proxyPort = opts.proxyPort ?? 4011;
    this.log = opts.log.child({ sub: 'dhcp', iface: opts.interface, mode: opts.mode });
  }

  /** A copy of the counters. */
  get stats(): DhcpStats {
    return { ...this.counters };
  }

  /** Opens the sockets (67, plus 4011 in proxy mode). On failure closes what it opened and throws ERR_BIND_FAILED. */
  async start(): Promise<void> {
    if (this.sockets.length > 0) throw new BootfleetError('ERR_INTERNAL', 'DhcpServer already started');
    const ports = this.opts.mode === 'proxy' ? [this.port, this.proxyPort] : [this.port];
    try {
      for (const port of ports) {
        const socket = await openInterfaceSocket(this.opts.interface, port);
        this.sockets.push(socket);
        socket.on('message', (msg, rinfo) => void this.onMessage(socket, port, msg, rinfo));
        socket.on('error', (err) => this.log.error({ err: errorMessage(err), port }, 'socket error'));
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info({ ports }, 'DHCP server listening');
  }

  /** Closes every socket and waits for lease writes. Safe to call twice. */
  async stop(): Promise<void> {
    const sockets = this.sockets;
    this.sockets = [];
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    const pools = [this.local, ...this.relayed].flatMap((s) => (s.pool ? [s.pool] : []));
    await Promise.all(pools.map((pool) => pool.saved().catch((err: unknown) => this.log.error({ err: errorMessage(err), file: pool.stateFile }, 'lease file write failed'))));
  }

  private async onMessage(socket: dgram.Socket, port: number, msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    this.counters.received++;
    const source = { address: rinfo.address, port: rinfo.port };
    let req: DhcpRequestInfo | undefined;
    try {
      req = requestInfo(decodePacket(msg), port, source);
    } catch (err) {
      if (!(err instanceof DhcpDecodeError)) throw err;
      this.counters.malformed++;
      this.log.warn({ from: `${rinfo.address}:${rinfo.port}`, size: msg.length, reason: err.reason }, 'malformed DHCP packet dropped');
      return;
    }
    if (!req) {
      this.counters.dropped++;
      this.log.debug({ from: rinfo.address }, 'not a DHCP client message; dropped');
      return;
    }
    // Every client message with where it came from (the UDP source) and the address it is
    // about, so a renewal (RFC 2131 §4.3.2 RENEWING: unicast from the client's own address,
    // ciaddr set) can be told from a first REQUEST in the log.
    this.log.debug({ mac: req.mac, type: req.messageType, xid: req.packet.xid, from: rinfo.address, ciaddr: req.packet.ciaddr, ip: clientAddress(req) }, 'DHCP message received');
    this.emit({ mac: req.mac, type: req.messageType, ip: clientAddress(req), xid: req.packet.xid, ...(req.vendorClass ? { vendorClass: req.vendorClass } : {}) });
    try {
      const choice = chooseSubnet(req.packet, this.local, this.relayed);
      if (choice.kind === 'unknown') {
        this.unknownRelay(req, choice.reason);
        return;
      }
      await this.answer(socket, req, choice.subnet.net, await this.decide(req, choice.subnet));
    } catch (err) {
      // A per-packet failure (hook threw, lease write failed, send failed) skips that packet only.
      this.counters.dropped++;
      this.log.error({ mac: req.mac, type: req.messageType, err: errorMessage(err) }, 'DHCP message not answered');
    }
  }

  /** The answer for `req` on its subnet (`served`: our link, or the relayed subnet giaddr picked). */
  private decide(req: DhcpRequestInfo, served: Served): Promise<Outcome> | Outcome {
    const { net, pool } = served;
    // Proxy mode serves its own link only: dhcp.relays needs full mode (docs/networks.md says why).
    if (this.opts.mode === 'proxy') return handleProxy(req, { net, boot: this.opts.boot, proxyPort: this.proxyPort });
    if (req.port !== this.port) return { kind: 'drop', reason: `port ${req.port} is proxy-only` };
    return handleFull(req, {
      net,
      pool: pool as LeasePool, // checked in the constructor
      leaseSeconds: this.opts.leaseSeconds,
      boot: this.opts.boot,
      now: this.opts.now ?? Date.now,
      ...(this.opts.claims ? { claims: this.opts.claims } : {}),
    });
  }

  private async answer(socket: dgram.Socket, req: DhcpRequestInfo, net: NetParams, outcome: Outcome): Promise<void> {
    switch (outcome.kind) {
      case 'drop':
        this.counters.dropped++;
        this.log.debug({ mac: req.mac, type: req.messageType, reason: outcome.reason }, 'DHCP message dropped');
        return;
      case 'done':
        return;
      case 'reply': {
        const toSource = this.opts.mode === 'proxy' && req.port === this.proxyPort;
        const dest = replyDestination(req, outcome.type, net, toSource);
        if ('drop' in dest) {
          this.counters.dropped++;
          this.log.warn({ mac: req.mac, reason: dest.drop }, 'DHCP reply not sent');
          return;
        }
        await sendTo(socket, encodePacket(outcome.packet), dest.port, dest.address);
        this.counters.replied++;
        this.log.info({ mac: req.mac, type: outcome.type, ip: outcome.ip, xid: req.packet.xid, to: `${dest.address}:${dest.port}` }, 'DHCP reply sent');
        this.emit({ mac: req.mac, type: outcome.type, ip: outcome.ip, xid: req.packet.xid });
        return;
      }
      default: {
        const never: never = outcome;
        throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * A relay agent for a subnet nobody configured (a misconfigured relay, or someone probing):
   * dropped, and said at warn level at most once a second with the running total, so a flood does
   * not become a flood of log lines.
   */
  private unknownRelay(req: DhcpRequestInfo, reason: string): void {
    this.counters.dropped++;
    this.unknownRelays.count++;
    const now = performance.now();
    if (now - this.unknownRelays.lastLog < 1000) return;
    this.unknownRelays.lastLog = now;
    const fix = this.opts.mode === 'full' ? 'add its subnet to dhcp.relays' : 'proxy mode answers its own link only (docs/networks.md)';
    this.log.warn({ mac: req.mac, type: req.messageType, giaddr: req.packet.giaddr, from: req.source.address, total: this.unknownRelays.count, reason, fix }, 'DHCP message from an unknown relay agent dropped');
  }

  private emit(e: DhcpEvent): void {
    if (e.ip === undefined) delete e.ip;
    try {
      this.opts.onEvent?.(e);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'onEvent listener threw');
    }
  }
}

/** The address a client message is about: option 50 if present, else ciaddr, else none. */
function clientAddress(req: DhcpRequestInfo): string | undefined {
  const requested = decodeIp(req.packet.options.get(Opt.RequestedIp));
  if (requested !== undefined) return requested;
  return req.packet.ciaddr === '0.0.0.0' ? undefined : req.packet.ciaddr;
}

/** 255.255.255.0 → 24. Throws for a non-contiguous mask. */
export function maskToPrefix(mask: string): number {
  const n = ipToInt(mask);
  const prefix = 32 - Math.log2((~n >>> 0) + 1);
  if (!Number.isInteger(prefix)) throw new BootfleetError('ERR_CONFIG_INVALID', `dhcp: subnet mask ${mask} is not contiguous`);
  return prefix;
}
