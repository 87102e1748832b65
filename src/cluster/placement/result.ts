/** Turns the final PlacementState into the PlacementResult the controller and the CLI read. */
import { nodeId, type Change, type PlacementState, type SiteState } from './state.js';
import { compareNumbers } from './ranking.js';
import type { PlacementMove, PlacementResult } from './types.js';

export function toResult(state: PlacementState): PlacementResult {
  const assignments: Record<string, string[]> = {};
  const moves: PlacementMove[] = [];
  const rebalanceMoves: PlacementMove[] = [];
  const unplaced: PlacementResult['unplaced'] = [];
  for (const site of state.sites) {
    assignments[site.id] = inPreferenceOrder(state, site);
    for (const move of pairChanges(site)) (move.reason === 'rebalance' ? rebalanceMoves : moves).push(move);
    if (site.missing > 0) unplaced.push({ site: site.id, missing: site.missing, reason: missingReason(state, site) });
  }
  const byNode = (values: Float64Array): Record<string, number> =>
    Object.fromEntries(state.nodes.map((n, i) => [n.id, values[i] ?? 0]));
  return {
    assignments, moves: [...moves, ...rebalanceMoves], unplaced,
    loads: byNode(finalLoads(state)), caps: byNode(state.caps), fair: byNode(state.fair),
    removed: state.input.removed, ignoredPins: state.ignoredPins,
  };
}

/**
 * Loads summed afresh in site order: the running loads carry float residue from additions and
 * removals (1e-16 instead of 0), and the reported figures must not depend on the path taken.
 */
function finalLoads(state: PlacementState): Float64Array {
  const loads = new Float64Array(state.nodes.length);
  for (const site of state.sites) for (const n of site.nodes) loads[n] = (loads[n] ?? 0) + site.share;
  return loads;
}

function inPreferenceOrder(state: PlacementState, site: SiteState): string[] {
  if (site.nodes.length < 2) return site.nodes.map((n) => nodeId(state, n));
  return site.nodes
    .map((n) => ({ n, score: state.ranker.score(site.key, n) }))
    .sort((x, y) => compareNumbers(y.score, x.score) || x.n - y.n)
    .map(({ n }) => nodeId(state, n));
}

/**
 * Removals and additions of one site, paired in the order they happened into moves from → to.
 * A pair is named after its removal (the cause), except that a pin names its own move.
 */
function pairChanges(site: SiteState): PlacementMove[] {
  const moves: PlacementMove[] = [];
  const count = Math.max(site.removed.length, site.added.length);
  for (let i = 0; i < count; i++) {
    const from: Change | undefined = site.removed[i];
    const to: Change | undefined = site.added[i];
    const reason = to?.reason === 'pin' ? 'pin' : (from ?? to)?.reason ?? 'rebalance';
    if (from && to) moves.push({ site: site.id, from: from.node, to: to.node, reason });
    else if (from) moves.push({ site: site.id, from: from.node, reason });
    else if (to) moves.push({ site: site.id, to: to.node, reason });
  }
  return moves;
}

function missingReason(state: PlacementState, site: SiteState): string {
  const n = state.nodes.length;
  if (n === 0) return 'no eligible nodes';
  return `${site.replicas} replicas must be on distinct nodes and only ${n} eligible node${n === 1 ? '' : 's'}`;
}
