import type { ClusterState } from '../cluster/model.js';

/** One of a node's servers in the balancer (one per site it serves), as HAProxy shows it now. */
export interface ServerView {
  site: string;
  /** HAProxy's status: UP, DOWN, DRAIN, MAINT, with "x/y" while in transition. */
  status: string;
  /** Checked afresh since it left MAINT: exactly DRAIN, last check L7OK, health at its maximum. */
  fresh: boolean;
  /** The last check, in words ("L7STS 403 Forbidden"). */
  check: string;
  /** 5xx answers + connection errors + response errors (hrsp_5xx + econ + eresp), cumulative. */
  errors: number;
  /** Sessions open or queued (scur + qcur). */
  sessions: number;
}

/** What the controller knows of one node right now. */
export interface NodeNow {
  /** Heartbeats fresh (the node agent reports). */
  ready: boolean;
  heartbeat?: { at: number; image: string; bootToken: string; sites: readonly string[] };
  /** Its boot events (time in ms): DHCP, TFTP, initramfs stages, `reboot`, `agent` … */
  events: ReadonlyArray<{ stage: string; at: number }>;
  servers: readonly ServerView[];
}

/** Everything the rollout step decides from; gathered by src/controller/rollout-runner.ts. */
export interface World {
  now: number;
  state: ClusterState;
  node: (mac: string) => NodeNow | undefined;
  /** Every approved node the controller knows (MACs). */
  macs: readonly string[];
  /** Per site and node: the balancer's check passes (true), fails (false) or is not known. */
  healthy: (site: string, mac: string) => boolean | undefined;
  /** A managed balancer runs: its server states and counters are facts (else sites' own reports are). */
  balancer: boolean;
  /** No site is being handed over and no site has more replicas placed than it asks for (the reconciler has settled). */
  settled: boolean;
  /** A fresh reboot token. */
  token: () => string;
}

/** Sites with content placed on the node, as `name@version` the agent reports when it serves them. */
export function sitesOn(state: ClusterState, mac: string): Array<{ name: string; served: string }> {
  return Object.values(state.sites)
    .filter((s) => s.content !== undefined && (state.placement[s.name] ?? []).includes(mac))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => ({ name: s.name, served: `${s.name}@${s.content?.version ?? ''}` }));
}
