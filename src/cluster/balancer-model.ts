import type { BalancerListen, BalancerModel, BalancerServer } from '../balancer/model.js';
import type { ClusterState } from './model.js';

/**
 * The load balancer's model from the cluster state (pure): one site per site, served by the
 * nodes it is placed on (ready) and the nodes handing it over (drain: no new requests, the
 * sessions they hold finish), each on the site's port at the node's address; a node a rollout
 * holds is drained or in maintenance in every site. A site without
 * content yet has no servers (the balancer answers 503 for it).
 */
export function balancerModel(state: ClusterState, addressOf: (mac: string) => string | undefined, opts: { listen: BalancerListen[]; stateDir: string }): BalancerModel {
  const sites = Object.values(state.sites).sort((a, b) => a.name.localeCompare(b.name)).map((site) => {
    const server = (mac: string, admin: BalancerServer['admin']): BalancerServer[] => {
      const address = addressOf(mac);
      // A rollout's hold wins: its node is drained or in maintenance everywhere (docs/rollout.md).
      const held = state.holds[mac];
      return address && site.content ? [{ node: mac, address, port: site.port, admin: held === 'maint' ? 'maint' : held === 'drain' ? 'drain' : admin }] : [];
    };
    const placed = state.placement[site.name] ?? [];
    return {
      id: site.name,
      domains: site.domains,
      servers: [
        ...placed.flatMap((mac) => server(mac, 'ready')),
        ...(state.retiring[site.name] ?? []).filter((mac) => !placed.includes(mac)).flatMap((mac) => server(mac, 'drain')),
      ],
      check: { path: site.health.path, status: site.health.status, ...(site.health.text ? { text: site.health.text } : {}) },
      ...(site.affinity ? { affinity: site.affinity } : {}),
    };
  });
  return { listen: opts.listen, sites, generation: state.generation, paths: { stateDir: opts.stateDir } };
}
