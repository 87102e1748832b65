import type { Lease } from 'etcd3';
import type { Logger } from '../../log.js';
import { errorMessage } from '../../errors.js';
import type { EtcdConnection } from './connect.js';

const PREFIX = 'controllers/';

/**
 * The controllers alive on one etcd, by the address nodes reach them at (their HTTP base): each
 * writes `controllers/<name>` on a lease of its own, so a controller that dies drops out of the
 * list within the lease TTL. Manifests name them all, and a node agent whose controller stops
 * answering goes on with the next one (docs/agent.md, docs/scale-out.md).
 */
export class EtcdPeers {
  private readonly known = new Map<string, string>();
  private lease: Lease | undefined;
  private stopped = false;
  private readonly unfollow: () => void;

  constructor(private readonly conn: EtcdConnection, private readonly name: string, private readonly httpBase: string, private readonly ttlSeconds: number, private readonly log: Logger) {
    this.known.set(name, httpBase);
    this.unfollow = conn.follow({ prefix: PREFIX }, {
      put: (kv) => void this.known.set(kv.key.toString().slice(PREFIX.length), kv.value.toString()),
      delete: (kv) => {
        const who = kv.key.toString().slice(PREFIX.length);
        if (who !== this.name) this.known.delete(who);
      },
      resync: () => void this.readAll(),
    });
    this.register();
  }

  /** Every live controller's HTTP base, this one first (nodes keep talking to the one they booted from while it answers). */
  list(): string[] {
    const others = [...this.known].filter(([name]) => name !== this.name).sort(([a], [b]) => a.localeCompare(b)).map(([, base]) => base);
    return [this.httpBase, ...others];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unfollow();
    await this.lease?.revoke().catch(() => undefined);
  }

  private register(): void {
    if (this.stopped) return;
    const lease = this.conn.ns.lease(this.ttlSeconds);
    this.lease = lease;
    lease.on('lost', (err) => {
      if (lease !== this.lease) return;
      this.log.warn({ err: errorMessage(err) }, 'controller registration lost; registering again');
      setTimeout(() => this.register(), 1000).unref();
    });
    lease.put(`${PREFIX}${this.name}`).value(this.httpBase).exec().catch(() => undefined); // a failure shows as 'lost'
  }

  private async readAll(): Promise<void> {
    try {
      const all = await this.conn.ns.getAll().prefix(PREFIX).strings();
      for (const who of [...this.known.keys()]) if (who !== this.name && !(`${PREFIX}${who}` in all)) this.known.delete(who);
      for (const [key, base] of Object.entries(all)) this.known.set(key.slice(PREFIX.length), base);
    } catch {
      // The watch reads again when etcd is back.
    }
  }
}
