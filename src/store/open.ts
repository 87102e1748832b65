import { hostname } from 'node:os';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { connectEtcd } from './etcd/connect.js';
import { EtcdLeadership } from './etcd/leadership.js';
import { EtcdStateStore } from './etcd/state.js';
import { EtcdAddressClaims } from './etcd/claims.js';
import { EtcdNodeShare } from './etcd/nodes.js';
import { EtcdPeers } from './etcd/peers.js';
import type { NodeRecord, NodeRegistry } from '../cluster/nodes.js';
import type { AddressClaims } from '../dhcp/claims.js';
import { soleLeader, type Leadership } from './leadership.js';
import { FileStateStore, type StateStore } from './state.js';

/** What shares node records: told of each local change, closed (flushing) before the store. */
export interface NodeShare {
  changed: (node: NodeRecord) => void;
  close: () => Promise<void>;
}

/** The cluster state store the config asks for, and who leads with it. */
export interface OpenedStore {
  kind: 'file' | 'etcd';
  state: StateStore;
  leadership: Leadership;
  /** DHCP address claims shared with the other controllers (etcd only). */
  claims?: AddressClaims;
  /** Shares node records and heartbeats with the other controllers (etcd only). */
  shareNodes?: (registry: NodeRegistry) => NodeShare;
  /** Every live controller's HTTP base, this one first. */
  controllers: () => string[];
  /** Hands leadership over (if held) and closes the connection. */
  close: () => Promise<void>;
}

/**
 * store.kind file: files in stateDir, and this controller always leads (it is the only one).
 * store.kind etcd: the state in etcd (fails with ERR_STORE_UNAVAILABLE when it does not answer)
 * and a campaign for leadership on an etcd lease (docs/scale-out.md).
 */
export async function openStore(config: Config, log: Logger, httpBase: string): Promise<OpenedStore> {
  const name = controllerName(config);
  if (config.store.kind === 'file') {
    return { kind: 'file', state: new FileStateStore(config.controller.stateDir), leadership: soleLeader(name), controllers: () => [httpBase], close: async () => undefined };
  }
  const conn = await connectEtcd(config.store);
  const leadership = new EtcdLeadership(conn, name, config.store.leaseTtlSeconds, log.child({ sub: 'leadership' }));
  log.info({ endpoints: conn.endpoints, prefix: config.store.prefix, name }, 'cluster state in etcd');
  const shares: EtcdNodeShare[] = [];
  const peers = new EtcdPeers(conn, name, httpBase, config.store.leaseTtlSeconds, log.child({ sub: 'peers' }));
  return {
    kind: 'etcd',
    state: new EtcdStateStore(conn),
    leadership,
    claims: new EtcdAddressClaims(conn, Date.now, { log: log.child({ sub: 'dhcp-claims' }), holder: name }),
    controllers: () => peers.list(),
    shareNodes: (registry) => {
      const share = new EtcdNodeShare(conn, registry, log.child({ sub: 'node-share' }));
      shares.push(share);
      return share;
    },
    close: async () => {
      for (const share of shares.splice(0)) await share.close();
      await leadership.stop();
      await peers.stop();
      conn.close();
    },
  };
}

/** controller.name, else `<hostname>-<address>`: unique among controllers sharing one etcd. */
export function controllerName(config: Config): string {
  return config.controller.name ?? `${hostname().toLowerCase()}-${config.controller.address}`;
}
