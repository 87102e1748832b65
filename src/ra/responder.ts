/**
 * Answers IPv6 Router Solicitations on ONE interface with a router-lifetime-0 Router
 * Advertisement (no prefix, M=O=0), sent to the soliciting link-local address. iPXE otherwise
 * keeps soliciting for ~16 s before finishing "Configuring" (docs/boot-flow.md "Boot speed");
 * a lifetime-0 RA tells every host "no router, no DHCPv6 here" and changes nothing on the network.
 */
import { BootfleetError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { nativeNet, type Icmp6Handle, type NativeError } from '../net/native.js';
import { ALL_NODES, ALL_ROUTERS, ICMP6_ROUTER_SOLICIT, NULL_ADVERT, checkRouterSolicitation, encodeRouterAdvert, isUnspecified } from './ndp.js';

export interface RouterAdvertResponderOptions {
  /** The controller's interface; nothing is received or sent elsewhere (SO_BINDTODEVICE). */
  interface: string;
  log: Logger;
  /**
   * Upper bound of the random delay before each RA, ms. RFC 4861 §6.2.6 requires 0–500 ms
   * (MAX_RA_DELAY_TIME) so routers on one link do not answer in lock-step. Default 500.
   */
  maxDelayMs?: number;
  /** Called after each RA is sent, with its destination. */
  onAdvert?: (e: { to: string; solicitedBy: string }) => void;
}

export interface RaStats {
  solicitations: number;
  invalid: number;
  adverts: number;
}

/** RFC 4861 §6.2.6: multicast RAs at most once per MIN_DELAY_BETWEEN_RAS (3 s). */
const MIN_DELAY_BETWEEN_MULTICAST_MS = 3000;

export class RouterAdvertResponder {
  private handle: Icmp6Handle | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastMulticast = 0;
  private readonly counters: RaStats = { solicitations: 0, invalid: 0, adverts: 0 };
  private readonly log: Logger;
  private readonly advert = encodeRouterAdvert(NULL_ADVERT);

  constructor(private readonly opts: RouterAdvertResponderOptions) {
    this.log = opts.log.child({ sub: 'ra', iface: opts.interface });
  }

  get stats(): RaStats {
    return { ...this.counters };
  }

  /** Opens the raw ICMPv6 socket (RS only, joined to ff02::2). Throws ERR_BIND_FAILED naming the interface. */
  start(): void {
    if (this.handle) throw new BootfleetError('ERR_INTERNAL', 'RouterAdvertResponder already started');
    try {
      this.handle = nativeNet().icmp6Open(this.opts.interface, [ICMP6_ROUTER_SOLICIT], [ALL_ROUTERS], (payload, source, hopLimit) =>
        this.onSolicit(payload, source, hopLimit),
      );
    } catch (err) {
      const e = err as NativeError;
      const why = e.code === 'ENODEV' ? `interface ${this.opts.interface} does not exist` : `cannot open a raw ICMPv6 socket on ${this.opts.interface}: ${e.message} (needs root or CAP_NET_RAW)`;
      throw new BootfleetError('ERR_BIND_FAILED', why, { cause: err });
    }
    this.log.info('answering router solicitations with lifetime-0 advertisements');
  }

  /** Closes the socket and cancels pending answers. Safe to call twice. */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.handle) nativeNet().icmp6Close(this.handle);
    this.handle = undefined;
  }

  private onSolicit(payload: Buffer, source: string, hopLimit: number): void {
    this.counters.solicitations++;
    const check = checkRouterSolicitation(payload, hopLimit, source);
    if (!check.ok) {
      this.counters.invalid++;
      this.log.debug({ from: source, reason: check.reason }, 'invalid router solicitation dropped');
      return;
    }
    // RFC 4861 §6.2.6: unicast to the solicitor when it has an address; from :: only multicast works.
    const to = isUnspecified(source) ? ALL_NODES : source;
    if (to === ALL_NODES) {
      if (Date.now() - this.lastMulticast < MIN_DELAY_BETWEEN_MULTICAST_MS) return;
      this.lastMulticast = Date.now();
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.send(to, source);
    }, Math.random() * (this.opts.maxDelayMs ?? 500));
    this.timers.add(timer);
  }

  private send(to: string, solicitedBy: string): void {
    if (!this.handle) return;
    try {
      nativeNet().icmp6Send(this.handle, to, this.advert);
      this.counters.adverts++;
      this.log.debug({ to }, 'router advertisement sent');
      this.opts.onAdvert?.({ to, solicitedBy });
    } catch (err) {
      // e.g. no link-local address yet on the interface: skip this one, the host will solicit again.
      this.log.warn({ to, err: errorMessage(err) }, 'router advertisement not sent');
    }
  }
}
