import type { Logger } from '../../log.js';
import { errorMessage } from '../../errors.js';
import type { NodeRecord, NodeRegistry } from '../../cluster/nodes.js';
import type { EtcdConnection } from './connect.js';

const PREFIX = 'nodes/';
/** Puts in flight at once: a thousand nodes changing in one second must not trip the client's circuit breaker. */
const PARALLEL = 16;

/**
 * Shares node records (DHCP facts, boot events, heartbeats) between the controllers of one etcd
 * (docs/scale-out.md): what this controller learns is written to `nodes/<mac>` at most once a
 * second per node, and every record any controller writes is merged into the local registry
 * (NodeRegistry.merge: newest facts, newest heartbeat, union of events). A node's agent talks to
 * one controller; the leader places sites from the heartbeats all of them hear. Last writer wins
 * per key, which is safe because merging is idempotent and keeps the newest of each part.
 */
export class EtcdNodeShare {
  private readonly dirty = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly unfollow: () => void;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly conn: EtcdConnection, private readonly registry: NodeRegistry, private readonly log: Logger, intervalMs = 1000) {
    this.unfollow = conn.follow({ prefix: PREFIX }, {
      put: (kv) => this.take(kv.value.toString()),
      delete: () => undefined,
      resync: () => void this.readAll(),
    });
    // What this controller knew before it joined (nodes.json) is shared with the first flush.
    for (const node of registry.list()) this.dirty.add(node.mac);
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** This controller learned something about `node`: written with the next flush. */
  changed(node: NodeRecord): void {
    this.dirty.add(node.mac);
  }

  /** Writes what is pending, then stops following. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unfollow();
    await this.flush();
  }

  private flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const macs = [...this.dirty];
    this.dirty.clear();
    for (let i = 0; i < macs.length; i += PARALLEL) {
      await Promise.all(macs.slice(i, i + PARALLEL).map(async (mac) => {
        const node = this.registry.get(mac);
        if (!node) return;
        try {
          await this.conn.ns.put(`${PREFIX}${mac}`).value(JSON.stringify(node)).exec();
        } catch (err) {
          // Kept for the next flush: the store may be between leaders or out of quorum.
          this.dirty.add(mac);
          this.log.warn({ mac, err: errorMessage(err) }, 'node record not shared yet');
        }
      }));
    }
  }

  private async readAll(): Promise<void> {
    try {
      const all = await this.conn.ns.getAll().prefix(PREFIX).strings();
      for (const text of Object.values(all)) this.take(text);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'node records not read from the store');
    }
  }

  private take(text: string): void {
    const node = parseRecord(text);
    if (node) this.registry.merge(node);
    else this.log.warn({ record: text.slice(0, 80) }, 'a node record in the store is malformed: ignored');
  }
}

/** A record as another controller wrote it, or undefined when it is not one. */
function parseRecord(text: string): NodeRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<NodeRecord> | null;
    if (!v || typeof v.mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(v.mac) || !Array.isArray(v.events)) return undefined;
    if (typeof v.firstSeen !== 'string' || typeof v.lastSeen !== 'string') return undefined;
    return v as NodeRecord;
  } catch {
    return undefined;
  }
}
