import { Etcd3, type IOptions, type Namespace } from 'etcd3';
import type { StoreConfig } from '../../config.js';
import { BootfleetError, errorMessage } from '../../errors.js';
import { follow, type FollowHandlers, type FollowRange } from './follow.js';

/** An open etcd client and the namespace (store.prefix) every bootfleet key lives under. */
export interface EtcdConnection {
  client: Etcd3;
  ns: Namespace;
  /** store.endpoints, for messages. */
  endpoints: readonly string[];
  /** Follows a key or prefix under `ns` (./follow.ts) until the returned function is called or the connection closes. */
  follow: (range: FollowRange, handlers: FollowHandlers) => () => void;
  /** Stops every follow, then closes the client. */
  close: () => void;
}

/**
 * Opens the etcd client of store.kind etcd and checks that the cluster answers (a quorum read),
 * so a controller pointed at a dead or quorum-less etcd fails at start with ERR_STORE_UNAVAILABLE
 * naming the endpoints, instead of serving from nothing. Unary calls get a deadline of
 * dialTimeoutSeconds: a member cut off (not refusing, just silent) must not hang a DHCP answer;
 * the client then retries on another member (etcd3's default policy: three attempts, a circuit
 * breaker per member).
 */
export async function connectEtcd(store: StoreConfig): Promise<EtcdConnection> {
  const endpoints = store.endpoints ?? [];
  if (endpoints.length === 0) throw new BootfleetError('ERR_CONFIG_INVALID', 'store.endpoints: required when store.kind is etcd');
  const deadlineMs = store.dialTimeoutSeconds * 1000;
  const options: IOptions = {
    hosts: [...endpoints],
    dialTimeout: deadlineMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + deadlineMs }),
  };
  const client = new Etcd3(options);
  try {
    // A linearizable read: it answers only while a majority of members is up.
    await client.get(`${store.prefix}ping`).exec();
  } catch (err) {
    client.close();
    throw unavailable(endpoints, err);
  }
  const ns = client.namespace(store.prefix);
  const follows = new Set<() => void>();
  return {
    client, ns, endpoints,
    follow: (range, handlers) => {
      const stop = follow(ns, range, handlers);
      const once = (): void => {
        follows.delete(once);
        stop();
      };
      follows.add(once);
      return once;
    },
    close: () => {
      // A watch left open on a closed client makes etcd3 reconnect it forever (its backoff timer
      // keeps the process alive): cancelled watches are dropped at the next reconnect instead.
      for (const stop of [...follows]) stop();
      client.close();
    },
  };
}

/** ERR_STORE_UNAVAILABLE naming the endpoints and what went wrong. */
export function unavailable(endpoints: readonly string[], err: unknown): BootfleetError {
  return new BootfleetError('ERR_STORE_UNAVAILABLE', `etcd (${endpoints.join(', ')}) does not answer: ${errorMessage(err)}; check the members (etcdctl endpoint health) and store.endpoints (docs/scale-out.md)`, { cause: err });
}
