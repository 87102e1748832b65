import type { Lease } from 'etcd3';
import type { Logger } from '../../log.js';
import { errorMessage } from '../../errors.js';
import type { Leadership } from '../leadership.js';
import type { EtcdConnection } from './connect.js';

const KEY = 'leader';
/** Leadership ends this long before the lease could expire at etcd (the last renewal's round trip and clock drift). */
const MARGIN_MS = 500;

/**
 * Leader election on etcd (store.kind etcd): the leader is the controller whose name is in the
 * key `<prefix>leader`, written with `If(create_revision == 0)` and attached to its etcd lease
 * (store.leaseTtlSeconds), which the client renews every third of the TTL. When the leader dies
 * or is cut off, its renewals stop, etcd drops the lease and the key with it, and the others,
 * watching the key, race to write it again: one wins. A stop hands over at once (the key is
 * deleted and the lease revoked).
 *
 * A leader that stops hearing from etcd steps down by itself when its lease could have expired
 * (the last successful renewal + TTL − MARGIN_MS), without waiting for the client library's own
 * "lost" (which comes only after twice the TTL), so two controllers never both act as leader
 * while the lease is in doubt.
 */
export class EtcdLeadership implements Leadership {
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private elected = false;
  private validUntil = 0;
  private current: string | undefined;
  private reported = false;
  private stopped = false;
  private taking = false;
  private readonly listeners = new Set<(leading: boolean) => void>();
  private readonly unfollow: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly conn: EtcdConnection, readonly name: string, private readonly ttlSeconds: number, private readonly log: Logger) {
    this.unfollow = conn.follow({ key: KEY }, {
      put: (kv) => this.seen(kv.value.toString('utf8')),
      delete: () => {
        this.seen(undefined);
        void this.take();
      },
      resync: () => void this.refresh(),
    });
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
    this.newLease();
  }

  isLeader(): boolean {
    return this.elected && Date.now() < this.validUntil;
  }

  leader(): string | undefined {
    return this.current;
  }

  onChange(listener: (leading: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unfollow();
    const was = this.elected;
    this.elected = false;
    this.report();
    try {
      if (was) await this.conn.ns.if(KEY, 'Value', '==', this.name).then(this.conn.ns.delete().key(KEY)).commit();
      await this.lease?.revoke();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'leadership not handed over cleanly (the lease expires by itself)');
    }
  }

  private newLease(): void {
    if (this.stopped) return;
    const lease = this.conn.ns.lease(this.ttlSeconds);
    this.lease = lease;
    this.leaseId = undefined;
    lease.on('keepaliveSucceeded', (res) => {
      if (lease === this.lease) this.validUntil = Date.now() + Number(res.TTL) * 1000 - MARGIN_MS;
    });
    lease.on('lost', (err) => {
      if (lease !== this.lease) return;
      this.log.warn({ err: errorMessage(err) }, 'etcd lease lost');
      this.stepDown('lease lost');
      this.lease = undefined;
      setTimeout(() => this.newLease(), 1000).unref();
    });
    lease.grant().then((id) => {
      if (lease !== this.lease) return;
      this.leaseId = id;
      this.validUntil = Date.now() + this.ttlSeconds * 1000 - MARGIN_MS;
      void this.take();
    }, () => undefined); // reported through 'lost'
  }

  /** Writes our name as leader if nobody holds the key. */
  private async take(): Promise<void> {
    const id = this.leaseId;
    if (this.stopped || this.elected || this.taking || !this.lease || id === undefined) return;
    this.taking = true;
    try {
      const r = await this.conn.ns.if(KEY, 'Create', '==', 0).then(this.conn.ns.put(KEY).value(this.name).lease(id)).else(this.conn.ns.get(KEY)).commit();
      if (r.succeeded && this.leaseId === id && !this.stopped) {
        this.elected = true;
        this.current = this.name;
        this.log.info({ name: this.name, ttlSeconds: this.ttlSeconds }, 'leading: this controller runs placement and rollouts');
      } else {
        this.seen(r.responses[0]?.response_range?.kvs[0]?.value.toString('utf8'));
      }
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'leader key not written (etcd unreachable?)');
    } finally {
      this.taking = false;
      this.report();
    }
  }

  private async refresh(): Promise<void> {
    try {
      const value = await this.conn.ns.get(KEY).string();
      this.seen(value ?? undefined);
      if (value === null) void this.take();
    } catch {
      // The watch will tell when etcd is back.
    }
  }

  private seen(name: string | undefined): void {
    this.current = name;
    if (this.elected && name !== this.name) this.stepDown(`the leader key names ${name ?? 'nobody'}`);
  }

  private stepDown(why: string): void {
    if (!this.elected) return;
    this.elected = false;
    this.log.warn({ why }, 'no longer leading');
    this.report();
  }

  private tick(): void {
    if (this.elected && Date.now() >= this.validUntil) this.log.warn({ validUntil: new Date(this.validUntil).toISOString() }, 'lease renewals failing: not acting as leader until one succeeds');
    if (!this.elected && this.current === undefined) void this.take();
    this.report();
  }

  private report(): void {
    const now = this.isLeader();
    if (now === this.reported) return;
    this.reported = now;
    for (const l of this.listeners) l(now);
  }
}
