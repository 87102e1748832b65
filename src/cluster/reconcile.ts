import { isDeepStrictEqual } from 'node:util';
import { placeSites, desiredReplicas, type PlacementResult, type ScalePolicy } from './placement.js';
import type { ClusterState, Site } from './model.js';
import type { NodeState } from './node-state.js';

/** What the reconciler knows of a node right now. */
export interface NodeFacts {
  mac: string;
  state: NodeState;
  /** The boot policy admits it. */
  admitted: boolean;
  weight: number;
  /** Sites its agent says it serves, `name@content-version`. */
  serving: readonly string[];
}

export interface ReconcileInput {
  state: ClusterState;
  nodes: readonly NodeFacts[];
  /** Requests per second per site, from the balancer; a site missing here keeps its replica count. */
  rates: Readonly<Record<string, number>>;
  /** Per site and node: true when the balancer's check passes there, false when it fails; absent = unknown. */
  healthy: (site: string, node: string) => boolean | undefined;
  /**
   * The balancer checks every site on every node (a managed HAProxy): a hand-over then waits for
   * a passing check on each new node. Unknown is not enough there: a new server starts in MAINT
   * (unknown) until its fresh checks pass, and dropping the old node before that left a site with
   * no server UP (503) when placements changed in quick succession. Without checks, only a
   * failing one holds a hand-over.
   */
  checked?: boolean;
  now: number;
  epsilon?: number;
  /** Overload help thresholds and cooldown (placement's ScalePolicy). */
  scale?: ScalePolicy;
}

export interface ReconcileResult {
  /** The state to write (the caller writes it only when `changed`). */
  next: ClusterState;
  changed: boolean;
  placement: PlacementResult;
}

/**
 * One reconciler step, pure (docs/placement.md, "The reconciler"):
 * 1. overload help: each site's replica count follows its request rate (desiredReplicas, with
 *    hysteresis), within its min/max;
 * 2. placement: sites go on the nodes that are ready and admitted, or held by a rollout
 *    (placeSites: stable, capacity-bounded; only sites on gone, draining or over-cap nodes
 *    move), with a rollout's surge replicas on top of each site's count;
 * 3. hand-over: a node a site moved away from keeps serving it (drained in the balancer) until
 *    every node it moved to serves its current content and passes its check — a move never
 *    leaves a gap. A node that is down cannot hand over and is dropped at once.
 */
export function reconcile(input: ReconcileInput): ReconcileResult {
  const next = structuredClone(input.state);
  for (const site of Object.values(next.sites)) scaleForLoad(site, input.rates[site.name], input.now, input.scale);
  // A node a rollout holds (drained or rebooting onto a new image) keeps its sites: it comes back
  // with them, and the rollout placed helpers first where a site needed one (docs/rollout.md).
  const held = input.state.holds;
  const eligible = input.nodes.filter((n) => n.admitted && (n.state === 'ready' || held[n.mac] !== undefined));
  const surge = input.state.surge;
  const placement = placeSites({
    nodes: eligible.map((n) => ({ id: n.mac, weight: n.weight })),
    sites: Object.values(next.sites).map((s) => ({ id: s.name, load: s.weight, replicas: s.replicas + (surge[s.name] ?? 0), pinned: s.pinned })),
    current: input.state.placement,
    ...(input.epsilon !== undefined ? { epsilon: input.epsilon } : {}),
    // No moves for balance alone while a rollout holds nodes: they would put replicas on a node
    // that is rebooting; the rollout's reshuffle at the end rebalances.
    ...(Object.keys(held).length > 0 ? { maxRebalanceMoves: 0 } : {}),
  });
  next.placement = placement.assignments;
  next.retiring = handOver(input, placement.assignments);
  return { next, changed: !isDeepStrictEqual(next, input.state), placement };
}

function scaleForLoad(site: Site, rate: number | undefined, now: number, policy: ScalePolicy | undefined): void {
  if (rate === undefined) {
    site.replicas = Math.min(site.maxReplicas, Math.max(site.minReplicas, site.replicas));
    return;
  }
  const d = desiredReplicas({ replicas: site.replicas, minReplicas: site.minReplicas, maxReplicas: site.maxReplicas, requestRate: rate, perReplicaCapacity: site.capacity, lastChangeAt: site.lastScaleAt, now }, policy);
  if (d.replicas !== site.replicas) {
    site.replicas = d.replicas;
    site.lastScaleAt = now;
  }
}

function handOver(input: ReconcileInput, placed: Readonly<Record<string, string[]>>): Record<string, string[]> {
  const byMac = new Map(input.nodes.map((n) => [n.mac, n]));
  const out: Record<string, string[]> = {};
  for (const site of Object.values(input.state.sites)) {
    const now = placed[site.name] ?? [];
    const before = [...(input.state.placement[site.name] ?? []), ...(input.state.retiring[site.name] ?? [])];
    const leaving = [...new Set(before)].filter((mac) => !now.includes(mac) && canServe(byMac.get(mac)?.state));
    if (leaving.length === 0 || site.content === undefined) continue;
    const served = `${site.name}@${site.content.version}`;
    const passes = (mac: string): boolean => (input.checked ? input.healthy(site.name, mac) === true : input.healthy(site.name, mac) !== false);
    const arrived = now.length > 0 && now.every((mac) => (byMac.get(mac)?.serving.includes(served) ?? false) && passes(mac));
    if (!arrived) out[site.name] = leaving.sort();
  }
  return out;
}

/** A node that still runs (ready, or draining while its sites move) can keep serving during a hand-over. */
function canServe(state: NodeState | undefined): boolean {
  return state === 'ready' || state === 'draining';
}
