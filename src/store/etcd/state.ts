import { ConflictError, type StateStore, type Versioned } from '../state.js';
import { unavailable, type EtcdConnection } from './connect.js';

/**
 * The StateStore in etcd (store.kind etcd): key `<prefix>state/<key>` holds the JSON document.
 * etcd's mod revision of the key is the revision: it grows on every write, though not by one (it
 * is the cluster-wide revision of that write), and a write is one transaction
 * `If(mod_revision == expected) Then(put)` (`Create == 0` for a new key): the compare-and-swap the
 * interface promises, decided by etcd for every controller at once. Reads are linearizable (a
 * quorum read): a controller never serves state older than a write another one already saw
 * succeed. watch() follows writes by any controller. etcd failing (no quorum, every member
 * unreachable until the deadline) is ERR_STORE_UNAVAILABLE; a lost compare is a ConflictError.
 */
export class EtcdStateStore implements StateStore {
  constructor(private readonly conn: EtcdConnection) {}

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    const kv = (await this.call(() => this.conn.ns.get(path(key)).exec())).kvs[0];
    return kv ? { value: JSON.parse(kv.value.toString('utf8')) as T, revision: Number(kv.mod_revision) } : undefined;
  }

  async put<T>(key: string, value: T, expected: number): Promise<number> {
    const ns = this.conn.ns;
    const k = path(key);
    const compare = expected === 0 ? ns.if(k, 'Create', '==', 0) : ns.if(k, 'Mod', '==', String(expected));
    const r = await this.call(() => compare.then(ns.put(k).value(JSON.stringify(value))).else(ns.get(k)).commit());
    if (r.succeeded) return Number(r.header.revision);
    const actual = r.responses[0]?.response_range?.kvs[0]?.mod_revision ?? '0';
    throw new ConflictError(key, expected, Number(actual));
  }

  watch(key: string, onChange: () => void): () => void {
    return this.conn.follow({ key: path(key) }, { put: onChange, delete: onChange, resync: onChange });
  }

  private async call<R>(run: () => Promise<R>): Promise<R> {
    try {
      return await run();
    } catch (err) {
      throw unavailable(this.conn.endpoints, err);
    }
  }
}

function path(key: string): string {
  return `state/${key}`;
}
