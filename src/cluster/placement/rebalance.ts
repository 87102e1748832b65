/**
 * Lazy rebalancing (docs/placement.md "Joins and returns"): a node that joined or came back is
 * filled a few replicas per call, never in a storm. A replica moves only to a node that ranks
 * higher in its site's preference list (among the top replicas + LOOKAHEAD), and only while that
 * node stays at or below its fair share. Each such move improves a replica's rank and nothing
 * moves a replica down again, so repeated calls converge. A layout placeSites produced from
 * scratch is already a fixed point, and stays one when a node holding at most ε/(1+ε) of the
 * weight dies (fair shares then stay below the old caps), so such a death moves nothing else.
 */
import {
  addReplica, fitsUnder, removeReplica, SLACK, topRanking, type PlacementState, type SiteState,
} from './state.js';
import { compareNumbers } from './ranking.js';

interface Candidate {
  site: SiteState;
  from: number;
  to: number;
  /** Position of `to` in the site's preference list. */
  rank: number;
}

export function rebalance(state: PlacementState, maxMoves: number): void {
  if (maxMoves <= 0 || repaired(state) || !someNodeUnderFair(state)) return;
  const candidates: Candidate[] = [];
  for (const site of state.sites) {
    const candidate = bestCandidate(state, site);
    if (candidate) candidates.push(candidate);
  }
  // Nodes first in a site's list before those lower down, then bigger replicas (the order a
  // fresh placement would have used), then site id (sites are in id order; sort is stable).
  candidates.sort((x, y) => x.rank - y.rank || compareNumbers(y.site.share, x.site.share));
  let moves = 0;
  for (const { site, from, to } of candidates) {
    if (moves >= maxMoves) break;
    if (!fitsUnder(state, to, site.share, state.fair)) continue;
    removeReplica(state, site, from, 'rebalance');
    addReplica(state, site, to);
    moves++;
  }
}

/**
 * A call that moved replicas off gone or over-cap nodes does not also rebalance: the controller
 * applies the repair first, and balance waits for the next call. So a node dying moves only what
 * it must, even when the repair itself left some node under its fair share.
 */
function repaired(state: PlacementState): boolean {
  return state.sites.some((site) => site.removed?.some((c) => c.reason === 'node-gone' || c.reason === 'over-cap'));
}

function someNodeUnderFair(state: PlacementState): boolean {
  return state.loads.some((load, i) => load < (state.fair[i] ?? 0) - SLACK);
}

/**
 * For a site untouched in this call: its lowest-ranked unpinned replica, and the best-ranked
 * node above it that does not serve the site and would stay within its fair share.
 */
function bestCandidate(state: PlacementState, site: SiteState): Candidate | undefined {
  if (site.share === 0 || site.changed) return undefined;
  if (site.nodes.length === site.pinned.length) return undefined; // nothing movable
  const ranking = topRanking(state, site);
  let from = -1;
  let fromRank = -1;
  for (const n of site.nodes) {
    if (site.pinned.includes(n)) continue;
    const rank = rankOf(ranking, n);
    if (rank > fromRank) {
      from = n;
      fromRank = rank;
    }
  }
  for (let rank = 0; rank < fromRank; rank++) {
    const to = ranking[rank] ?? -1;
    if (to < 0 || site.nodes.includes(to)) continue;
    if (fitsUnder(state, to, site.share, state.fair)) return { site, from, to, rank };
  }
  return undefined;
}

/** Position in the computed prefix; anything beyond it ranks after the whole prefix. */
function rankOf(ranking: readonly number[], node: number): number {
  const at = ranking.indexOf(node);
  return at < 0 ? ranking.length : at;
}
