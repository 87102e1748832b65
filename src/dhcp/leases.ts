/**
 * The address pool of a full-mode DHCP server (RFC 2131 §4.3): a range, static reservations
 * and time-limited leases, persisted atomically to `<stateDir>/leases.json` (each relayed
 * subnet's pool to a file of its own) so a restart keeps every lease. Decisions are pure
 * functions of the state and the injected clock; the file write is asynchronous and `saved()`
 * waits for it.
 */
import { join } from 'node:path';
import { AtomicJsonFile } from '../store/atomic.js';
import { BootfleetError } from '../errors.js';
import { intToIp, ipToInt, isIPv4, normalizeMac } from '../net/addr.js';

/** `offered`: held for a client between OFFER and REQUEST; `bound`: ACKed; `released`: given back. */
export type LeaseState = 'offered' | 'bound' | 'released';

export interface Lease {
  mac: string;
  ip: string;
  state: LeaseState;
  /** Epoch milliseconds; a lease past this (or released) no longer holds its address. */
  expiresAt: number;
}

export interface LeasePoolOptions {
  /** Inclusive [first, last] dynamic range. */
  range: readonly [string, string];
  /** MAC → address; that address goes only to that MAC (it may lie outside the range). */
  reservations?: ReadonlyMap<string, string> | Record<string, string>;
  leaseSeconds: number;
  /** How long an OFFER holds its address for the client (RFC 2131 §4.3.1 "SHOULD reserve"). Default 60. */
  offerSeconds?: number;
  /** How long a DECLINEd address stays out of use (RFC 2131 §3.1.5). Default 600. */
  declineSeconds?: number;
  stateDir: string;
  /** The state file's name in stateDir, default `leases.json`; each relayed subnet's pool has its own (docs/networks.md). */
  fileName?: string;
  /** Clock in epoch ms; tests inject one. */
  now?: () => number;
}

interface StateFile {
  version: 1;
  leases: Lease[];
  declined: Array<{ ip: string; until: number }>;
}

/** How long a refused claim keeps an address out of this pool's choices before it asks again. */
const HINT_MS = 2000;

const EMPTY: StateFile = { version: 1, leases: [], declined: [] };

export class LeasePool {
  readonly leaseSeconds: number;
  private readonly lo: number;
  private readonly hi: number;
  private readonly reservedByMac = new Map<string, string>();
  private readonly reservedByIp = new Map<string, string>();
  private readonly byMac = new Map<string, Lease>();
  private readonly byIp = new Map<string, Lease>();
  private readonly declined = new Map<string, number>();
  private readonly elsewhere = new Map<string, number>();
  private readonly file: AtomicJsonFile<StateFile>;
  private readonly now: () => number;
  private readonly offerMs: number;
  private readonly declineMs: number;
  private pending: Promise<void> = Promise.resolve();

  private constructor(opts: LeasePoolOptions) {
    const [first, last] = opts.range;
    if (!isIPv4(first) || !isIPv4(last) || ipToInt(first) > ipToInt(last)) {
      throw new BootfleetError('ERR_CONFIG_INVALID', `dhcp.range: [${first}, ${last}] is not an ascending pair of IPv4 addresses`);
    }
    this.lo = ipToInt(first);
    this.hi = ipToInt(last);
    const entries = opts.reservations instanceof Map ? [...opts.reservations] : Object.entries(opts.reservations ?? {});
    for (const [rawMac, ip] of entries) {
      const mac = normalizeMac(rawMac);
      if (!mac || !isIPv4(ip)) throw new BootfleetError('ERR_CONFIG_INVALID', `dhcp.reservations: bad entry ${rawMac} → ${ip}`);
      this.reservedByMac.set(mac, ip);
      this.reservedByIp.set(ip, mac);
    }
    this.leaseSeconds = opts.leaseSeconds;
    this.offerMs = (opts.offerSeconds ?? 60) * 1000;
    this.declineMs = (opts.declineSeconds ?? 600) * 1000;
    this.now = opts.now ?? Date.now;
    this.file = new AtomicJsonFile<StateFile>(join(opts.stateDir, opts.fileName ?? 'leases.json'));
  }

  /** Creates a pool and loads `<stateDir>/leases.json` (missing = empty; corrupt = ERR_STATE_CORRUPT). */
  static async open(opts: LeasePoolOptions): Promise<LeasePool> {
    const pool = new LeasePool(opts);
    const state = await pool.file.load(EMPTY);
    if (state?.version !== 1 || !Array.isArray(state.leases) || !Array.isArray(state.declined)) {
      throw new BootfleetError('ERR_STATE_CORRUPT', `${pool.file.file} has an unknown format; fix or remove it`);
    }
    for (const l of state.leases) {
      // Records that no longer fit the configuration (range or reservations changed) are dropped.
      if (typeof l.mac === 'string' && isIPv4(l.ip) && typeof l.expiresAt === 'number' && pool.allowedFor(l.mac, l.ip)) {
        pool.put({ mac: l.mac, ip: l.ip, state: l.state, expiresAt: l.expiresAt });
      }
    }
    for (const d of state.declined) if (isIPv4(d.ip) && typeof d.until === 'number') pool.declined.set(d.ip, d.until);
    return pool;
  }

  /** The state file's path. */
  get stateFile(): string {
    return this.file.file;
  }

  /** True when `ip` is the pool's to give: in the range or reserved. */
  owns(ip: string): boolean {
    return isIPv4(ip) && (this.inRange(ip) || this.reservedByIp.has(ip));
  }

  /** The client's current record (live or not). */
  leaseFor(mac: string): Lease | undefined {
    const l = this.byMac.get(mac);
    return l ? { ...l } : undefined;
  }

  /** Every record, sorted by address. */
  leases(): Lease[] {
    return [...this.byMac.values()].map((l) => ({ ...l })).sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));
  }

  /**
   * Picks an address for `mac` and holds it for offerSeconds: the reservation if any; else the
   * client's previous address if still free; else `requestedIp` (option 50) if free; else the
   * lowest free address never used by another client; else the lowest free one. Undefined when
   * the pool is exhausted.
   */
  offer(mac: string, requestedIp?: string): string | undefined {
    const ip = this.choose(mac, requestedIp);
    if (ip === undefined) return undefined;
    const current = this.byMac.get(mac);
    if (current?.ip === ip && current.state === 'bound' && this.live(current)) return ip;
    this.put({ mac, ip, state: 'offered', expiresAt: this.now() + this.offerMs });
    this.persist();
    return ip;
  }

  /** Binds `ip` to `mac` for leaseSeconds (DHCPREQUEST → ACK). Undefined when it is not theirs to have. */
  commit(mac: string, ip: string): Lease | undefined {
    if (!this.availableFor(mac, ip)) return undefined;
    const lease: Lease = { mac, ip, state: 'bound', expiresAt: this.now() + this.leaseSeconds * 1000 };
    this.put(lease);
    this.persist();
    return { ...lease };
  }

  /** DHCPRELEASE: the client gives `ip` back. Ignored unless it holds that address. */
  release(mac: string, ip: string): boolean {
    const l = this.byMac.get(mac);
    if (l?.ip !== ip || l.state === 'released') return false;
    l.state = 'released';
    l.expiresAt = this.now();
    this.persist();
    return true;
  }

  /** DHCPDECLINE: `ip` is in use by someone else; keep it out of use for declineSeconds. */
  decline(mac: string, ip: string): boolean {
    const l = this.byMac.get(mac);
    if (l?.ip !== ip) return false;
    this.byMac.delete(mac);
    this.byIp.delete(ip);
    this.declined.set(ip, this.now() + this.declineMs);
    this.persist();
    return true;
  }

  /**
   * Another controller holds `ip` (a refused claim, src/dhcp/claims.ts): skip it when choosing,
   * until `until` but at most HINT_MS — the shared store stays the authority (the holder may give
   * it back sooner), this only saves asking it again for every client. Kept in memory only.
   */
  heldElsewhere(ip: string, until: number): void {
    this.elsewhere.set(ip, Math.min(until, this.now() + HINT_MS));
  }

  /** True when `mac` may be given `ip` now. */
  availableFor(mac: string, ip: string): boolean {
    if (!this.allowedFor(mac, ip)) return false;
    if ((this.declined.get(ip) ?? 0) > this.now()) return false;
    if ((this.elsewhere.get(ip) ?? 0) > this.now()) return false;
    const holder = this.byIp.get(ip);
    return holder === undefined || holder.mac === mac || !this.live(holder);
  }

  /** Resolves when every change so far is on disk. */
  saved(): Promise<void> {
    return this.pending;
  }

  private allowedFor(mac: string, ip: string): boolean {
    const reserved = this.reservedByMac.get(mac);
    if (reserved !== undefined) return ip === reserved;
    return this.inRange(ip) && !this.reservedByIp.has(ip);
  }

  private choose(mac: string, requestedIp?: string): string | undefined {
    const reserved = this.reservedByMac.get(mac);
    if (reserved !== undefined) return reserved;
    const previous = this.byMac.get(mac)?.ip;
    if (previous !== undefined && this.availableFor(mac, previous)) return previous;
    if (requestedIp !== undefined && isIPv4(requestedIp) && this.availableFor(mac, requestedIp)) return requestedIp;
    let fallback: string | undefined;
    for (let n = this.lo; n <= this.hi; n++) {
      const ip = intToIp(n);
      if (!this.availableFor(mac, ip)) continue;
      if (!this.byIp.has(ip)) return ip; // never used by anyone: keeps other clients' old addresses for them
      fallback ??= ip;
    }
    return fallback;
  }

  private inRange(ip: string): boolean {
    const n = ipToInt(ip);
    return n >= this.lo && n <= this.hi;
  }

  private live(l: Lease): boolean {
    return l.state !== 'released' && l.expiresAt > this.now();
  }

  /** Stores `lease` as the one record of its MAC and of its address. */
  private put(lease: Lease): void {
    const oldForMac = this.byMac.get(lease.mac);
    if (oldForMac) this.byIp.delete(oldForMac.ip);
    const oldForIp = this.byIp.get(lease.ip);
    if (oldForIp) this.byMac.delete(oldForIp.mac);
    this.byMac.set(lease.mac, lease);
    this.byIp.set(lease.ip, lease);
  }

  private persist(): void {
    const now = this.now();
    for (const [ip, until] of this.declined) if (until <= now) this.declined.delete(ip);
    const state: StateFile = {
      version: 1,
      leases: this.leases(),
      declined: [...this.declined].map(([ip, until]) => ({ ip, until })),
    };
    const write = this.file.save(state);
    write.catch(() => undefined); // surfaced through saved(); never an unhandled rejection
    this.pending = write;
  }
}
