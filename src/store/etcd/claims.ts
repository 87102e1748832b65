import type { AddressClaims, ClaimResult } from '../../dhcp/claims.js';
import { randomBytes } from 'node:crypto';
import { BootfleetError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { unavailable, type EtcdConnection } from './connect.js';
import { Limiter, type LimiterOptions, type Refusal } from './limiter.js';

/**
 * 16 claims at once (each a read and a compare-and-swap: two round trips, one raft write), 256
 * more waiting, none older than 4 s (RFC 2131 §4.1: a client resends after about 4 s, so an
 * answer to the old message is late and the new one is in the queue). Measured in
 * docs/benchmarks.md "Scale-out": 1,000 clients at once through two controllers.
 */
export type ClaimLimits = Pick<LimiterOptions, 'concurrency' | 'queue' | 'maxWaitMs'>;
export const CLAIM_LIMITS: ClaimLimits = { concurrency: 16, queue: 256, maxWaitMs: 4000 };
const WARN_EVERY_MS = 5000;

interface Claim {
  mac: string;
  /** Epoch ms: controllers compare it with their own clocks, so keep them in sync (NTP). */
  until: number;
  /** The controller that wrote it last (absent in claims written before it was recorded). */
  by?: string;
}

/**
 * DHCP address claims in etcd: key `<prefix>dhcp/<ip>` = {mac, until}, written by a
 * compare-and-swap on the key's revision (create if absent), so of two controllers claiming one
 * address for different MACs at once exactly one succeeds. A claim by the same MAC extends it
 * (renewals, OFFER then ACK); an expired one is taken over.
 *
 * Claims in flight are bounded (CLAIM_LIMITS): a burst of machines powering on at once would
 * otherwise send etcd more than it answers within the deadline, and the etcd3 client opens its
 * circuit breaker on every member after a few timeouts — then no DHCP message is answered, nor is
 * the leader's lease renewed, until it closes (docs/benchmarks.md, "Scale-out"). Beyond the bound
 * a claim is refused at once with ERR_STORE_BUSY: that DHCP message goes unanswered and the
 * client sends it again (RFC 2131 §4.1), by when the queue has moved.
 */
export class EtcdAddressClaims implements AddressClaims {
  /** This controller's name in the claims it writes (controller.name; default a random id). */
  private readonly holder: string;
  private readonly log: Logger | undefined;
  private readonly limits: ClaimLimits;
  private readonly limiter: Limiter;
  private lastWarned = -Infinity;
  private refusedSince = 0;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly now: () => number = Date.now,
    opts: { log?: Logger; limits?: ClaimLimits; holder?: string } = {},
  ) {
    this.holder = opts.holder ?? randomBytes(6).toString('hex');
    this.log = opts.log;
    this.limits = opts.limits ?? CLAIM_LIMITS;
    this.limiter = new Limiter({ ...this.limits, now, onRefused: (why, state) => this.refused(why, state) });
  }

  claim(ip: string, mac: string, until: number): Promise<ClaimResult> {
    return this.limiter.run(() => this.claimNow(ip, mac, until));
  }

  /**
   * Not gated: a release gives an address back (an offer the client did not take), and refusing
   * it would keep that address from every client until the claim expires, which under a burst
   * empties a tight range. There is at most one per REQUEST, so releases cannot outgrow the
   * claims that are gated.
   */
  release(ip: string, mac: string): Promise<void> {
    return this.releaseNow(ip, mac);
  }

  /** One warning per WARN_EVERY_MS while claims are refused, with how many were. */
  private refused(why: Refusal, state: { running: number; waiting: number }): void {
    this.refusedSince++;
    if (this.now() - this.lastWarned < WARN_EVERY_MS) return;
    this.log?.warn({ why, refused: this.refusedSince, ...state, limits: this.limits }, 'etcd claims are backed up: DHCP messages go unanswered until clients retry');
    this.lastWarned = this.now();
    this.refusedSince = 0;
  }

  /**
   * One round trip per attempt: a transaction that writes the claim if the key is as last seen
   * (absent, the common case in a boot) and otherwise reads it, so a refused write brings back
   * who holds the address and the revision to compare against next.
   */
  private async claimNow(ip: string, mac: string, until: number): Promise<ClaimResult> {
    const ns = this.conn.ns;
    const key = `dhcp/${ip}`;
    let compare = ns.if(key, 'Create', '==', 0);
    let next: Claim = { mac, until, by: this.holder };
    for (let attempt = 0; attempt < 10; attempt++) {
      let kv: { value: Buffer; mod_revision: string } | undefined;
      try {
        const res = await compare.then(ns.put(key).value(JSON.stringify(next))).else(ns.get(key)).commit();
        if (res.succeeded) return { ok: true };
        kv = res.responses[0]?.response_range?.kvs[0];
      } catch (err) {
        throw unavailable(this.conn.endpoints, err);
      }
      // Someone holds or held the key: decide from what it says now.
      const current = kv ? (JSON.parse(kv.value.toString('utf8')) as Claim) : undefined;
      if (current && current.mac !== mac && current.until > this.now()) return { ok: false, mac: current.mac, until: current.until };
      // The same MAC already holds it at least as long: nothing to write. The claim keeps naming
      // whoever holds it longest (an ACK's lease outlasts any offer), so a late offer by the other
      // controller cannot make a bound address releasable (see releaseNow).
      if (current?.mac === mac && current.until >= until) return { ok: true };
      next = { mac, until, by: this.holder };
      compare = kv ? ns.if(key, 'Mod', '==', kv.mod_revision) : ns.if(key, 'Create', '==', 0);
    }
    throw new BootfleetError('ERR_STATE_CONFLICT', `dhcp claim of ${ip}: still contended after 10 attempts`);
  }

  private async releaseNow(ip: string, mac: string): Promise<void> {
    const ns = this.conn.ns;
    const key = `dhcp/${ip}`;
    try {
      const kv = (await ns.get(key).exec()).kvs[0];
      const current = kv ? (JSON.parse(kv.value.toString('utf8')) as Claim) : undefined;
      // Only our own claim: when both controllers offered this address to this MAC, the other one
      // may have ACKed it since (same MAC: its claim extended ours and now names it). Deleting
      // that would free a bound address for the next client (two MACs on one address).
      if (!kv || current?.mac !== mac || (current.by !== undefined && current.by !== this.holder)) return;
      // Only if nobody wrote it since: a claim made in between stays.
      await ns.if(key, 'Mod', '==', kv.mod_revision).then(ns.delete().key(key)).commit();
    } catch (err) {
      throw unavailable(this.conn.endpoints, err);
    }
  }
}
