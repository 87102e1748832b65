import { hostname } from 'node:os';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { connectEtcd } from './etcd/connect.js';
import { EtcdLeadership } from './etcd/leadership.js';
import { EtcdStateStore } from './etcd/state.js';
import { EtcdAddressClaims } from './etcd/claims.js';
import type { AddressClaims } from '../dhcp/claims.js';
import { soleLeader, type Leadership } from './leadership.js';
import { FileStateStore, type StateStore } from './state.js';

/** The cluster state store the config asks for, and who leads with it. */
export interface OpenedStore {
  kind: 'file' | 'etcd';
  state: StateStore;
  leadership: Leadership;
  /** DHCP address claims shared with the other controllers (etcd only). */
  claims?: AddressClaims;
  /** Hands leadership over (if held) and closes the connection. */
  close: () => Promise<void>;
}

/**
 * store.kind file: files in stateDir, and this controller always leads (it is the only one).
 * store.kind etcd: the state in etcd (fails with ERR_STORE_UNAVAILABLE when it does not answer)
 * and a campaign for leadership on an etcd lease (docs/scale-out.md).
 */
export async function openStore(config: Config, log: Logger): Promise<OpenedStore> {
  const name = controllerName(config);
  if (config.store.kind === 'file') {
    return { kind: 'file', state: new FileStateStore(config.controller.stateDir), leadership: soleLeader(name), close: async () => undefined };
  }
  const conn = await connectEtcd(config.store);
  const leadership = new EtcdLeadership(conn.ns, name, config.store.leaseTtlSeconds, log.child({ sub: 'leadership' }));
  log.info({ endpoints: conn.endpoints, prefix: config.store.prefix, name }, 'cluster state in etcd');
  return {
    kind: 'etcd',
    state: new EtcdStateStore(conn),
    leadership,
    claims: new EtcdAddressClaims(conn, Date.now, { log: log.child({ sub: 'dhcp-claims' }), holder: name }),
    close: async () => {
      await leadership.stop();
      conn.close();
    },
  };
}

/** controller.name, else `<hostname>-<address>`: unique among controllers sharing one etcd. */
export function controllerName(config: Config): string {
  return config.controller.name ?? `${hostname().toLowerCase()}-${config.controller.address}`;
}
