import { emptyCluster, type ClusterState, type Site } from '../../src/cluster/model.js';
import type { Rollout, RolloutNode } from '../../src/rollout/types.js';
import type { NodeNow, ServerView, World } from '../../src/rollout/world.js';
import { DEFAULT_ROLLOUT_OPTIONS } from '../../src/rollout/plan.js';

export const A = '52:54:00:00:00:0a';
export const B = '52:54:00:00:00:0b';
export const C = '52:54:00:00:00:0c';
export const V1 = 'tiny-web@111111111111-amd64';
export const V2 = 'tiny-web@222222222222-amd64';
export const T0 = Date.parse('2030-01-01T00:00:00Z');

export function site(name: string, over: Partial<Site> = {}): Site {
  return {
    name, domains: [`${name}.example`], port: 8001, weight: 1, minReplicas: 2, maxReplicas: 4, replicas: 2, lastScaleAt: 0, capacity: 100,
    health: { path: '/healthz', status: 200 }, pinned: [], content: { version: 'abcdefabcdef', sha256: 'x', size: 1, uploadedAt: '' }, ...over,
  };
}

/** Three nodes, site alpha on A and B, bravo on A and C. */
export function cluster(): ClusterState {
  return { ...emptyCluster(), sites: { alpha: site('alpha'), bravo: site('bravo', { port: 8002 }) }, placement: { alpha: [A, B], bravo: [A, C] } };
}

export function rolloutOf(nodes: Array<Partial<RolloutNode> & { mac: string }>, over: Partial<Rollout> = {}): Rollout {
  return {
    id: 'r1', image: 'tiny-web', status: 'running', options: { ...DEFAULT_ROLLOUT_OPTIONS }, startedAt: new Date(T0).toISOString(),
    nodes: nodes.map((n) => ({ hostname: n.mac.slice(-2), phase: 'pending', since: new Date(T0).toISOString(), detail: '', from: V1, to: V2, power: 'agent', ...n })),
    ...over,
  };
}

export function server(site: string, over: Partial<ServerView> = {}): ServerView {
  return { site, status: 'UP', fresh: false, check: 'L7OK 200', errors: 0, sessions: 0, ...over };
}

/** A node that runs V1, serves its placed sites, heartbeats now, all servers UP. */
export function healthyNode(state: ClusterState, mac: string, now: number, over: Partial<NodeNow> = {}): NodeNow {
  const sites = Object.entries(state.placement).filter(([, m]) => m.includes(mac)).map(([s]) => s);
  return {
    ready: true,
    heartbeat: { at: now, image: V1, bootToken: '', sites: sites.map((s) => `${s}@abcdefabcdef`) },
    events: [],
    servers: sites.map((s) => server(s)),
    ...over,
  };
}

export function world(state: ClusterState, now: number, nodes: Record<string, NodeNow>, over: Partial<World> = {}): World {
  let tokens = 0;
  return {
    now, state, node: (mac) => nodes[mac], macs: Object.keys(nodes).sort(),
    healthy: (site, mac) => (nodes[mac]?.servers.find((s) => s.site === site)?.status.startsWith('UP') ? true : undefined),
    balancer: true, settled: true, token: () => `tok${++tokens}`, ...over,
  };
}
