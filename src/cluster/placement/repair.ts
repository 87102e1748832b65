/**
 * The forced part of placement (docs/placement.md "Algorithm"): relieve nodes over their cap,
 * then give every site its missing replicas, largest replica first, each on the first node of
 * its preference list that stays within cap. Nothing here is limited by maxRebalanceMoves.
 */
import {
  addReplica, fitsUnder, nodeId, rankingAt, removeReplica, SLACK, type PlacementState, type SiteState,
} from './state.js';
import { compareIds, compareNumbers } from './ranking.js';

/**
 * On a node above its cap, unpinned replicas leave in the order of the node's rank for them,
 * lowest first (the sites that like this node least, usually ones that overflowed onto it),
 * until it is within cap; then any of those that fit back after all return, most preferred
 * first, so no more replicas move than needed. Pinned replicas never leave.
 */
export function evictOverCap(state: PlacementState): void {
  const over: number[] = [];
  state.loads.forEach((load, i) => {
    if (load > (state.caps[i] ?? 0) + SLACK) over.push(i);
  });
  if (over.length === 0) return;
  const onNode = new Map<number, SiteState[]>(over.map((i) => [i, []]));
  for (const site of state.sites) {
    for (const n of site.nodes) if (!site.pinned.includes(n)) onNode.get(n)?.push(site);
  }
  for (const node of over) {
    const scored = (onNode.get(node) ?? []).map((site) => ({ site, score: state.ranker.score(site.key, node) }));
    scored.sort((x, y) => compareNumbers(x.score, y.score) || compareIds(x.site.id, y.site.id));
    const leaving: SiteState[] = [];
    for (const { site } of scored) {
      if ((state.loads[node] ?? 0) <= (state.caps[node] ?? 0) + SLACK) break;
      state.loads[node] = (state.loads[node] ?? 0) - site.share;
      leaving.push(site);
    }
    for (let i = leaving.length - 1; i >= 0; i--) {
      const site = leaving[i] as SiteState;
      const fitsBack = fitsUnder(state, node, site.share, state.caps);
      state.loads[node] = (state.loads[node] ?? 0) + site.share; // undo the trial removal
      if (!fitsBack) {
        removeReplica(state, site, node, 'over-cap');
        (site.avoid ??= []).push(node);
      }
    }
  }
}

/**
 * Every missing replica, in LPT order (largest replica load first, then site id: Graham's
 * longest-processing-time rule packs best), goes to the first node in the site's preference
 * list that does not serve it yet and stays within cap. If none does, an evicted replica goes
 * back where it was, any other to the node with the least load per weight after adding it.
 * With fewer eligible nodes than replicas the rest are reported missing.
 */
export function fillMissing(state: PlacementState): void {
  for (const site of lptOrder(state)) {
    const node = firstFit(state, site);
    if (node >= 0) addReplica(state, site, node);
    else if (!restoreEvicted(state, site)) placeAnywhere(state, site);
  }
}

/**
 * One entry per missing replica, largest replica load first, then site id. Replica loads take
 * few distinct values (site loads over small replica counts), so sites are bucketed by load in
 * id order and only the distinct loads are sorted: no comparison sort over 10^4 entries.
 */
function lptOrder(state: PlacementState): SiteState[] {
  const byShare = new Map<number, SiteState[]>();
  for (const site of state.sites) {
    for (let r = site.nodes.length; r < site.replicas; r++) {
      const bucket = byShare.get(site.share);
      if (bucket) bucket.push(site);
      else byShare.set(site.share, [site]);
    }
  }
  return [...byShare.keys()].sort((x, y) => compareNumbers(y, x)).flatMap((share) => byShare.get(share) ?? []);
}

/** The first node of the site's preference list that does not serve it and stays within cap, or -1. */
function firstFit(state: PlacementState, site: SiteState): number {
  for (let p = 0; ; p++) {
    const node = rankingAt(state, site, p);
    if (node < 0) return -1;
    if (!site.nodes.includes(node) && fitsUnder(state, node, site.share, state.caps)) return node;
  }
}

/**
 * A replica evicted for being over cap that fits nowhere else goes back where it was: moving it
 * would only make another node over cap, and the next call would move it again (a site bigger
 * than any cap would flap forever).
 */
function restoreEvicted(state: PlacementState, site: SiteState): boolean {
  const node = site.avoid?.find((n) => !site.nodes.includes(n));
  if (node === undefined) return false;
  const id = nodeId(state, node);
  site.removed = site.removed?.filter((c) => !(c.node === id && c.reason === 'over-cap'));
  site.avoid = site.avoid?.filter((n) => n !== node);
  site.nodes.push(node);
  state.loads[node] = (state.loads[node] ?? 0) + site.share;
  return true;
}

/** No node has room (caps are infeasible for this site): least loaded, or missing if every node already serves it. */
function placeAnywhere(state: PlacementState, site: SiteState): void {
  const node = leastLoaded(state, site);
  if (node < 0) site.missing++;
  else addReplica(state, site, node);
}

/** Least (load + share) / weight among nodes not serving the site, ties to the smaller id; -1 if every node serves it. */
function leastLoaded(state: PlacementState, site: SiteState): number {
  let best = -1;
  let bestRatio = Infinity;
  state.nodes.forEach((node, i) => {
    if (site.nodes.includes(i)) return;
    const ratio = ((state.loads[i] ?? 0) + site.share) / node.weight;
    if (ratio < bestRatio) {
      best = i;
      bestRatio = ratio;
    }
  });
  return best;
}
