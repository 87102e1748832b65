/** Turns the final PlacementState into the PlacementResult the controller and the CLI read. */
import { nodeId, type Change, type PlacementState, type SiteState } from './state.js';
import { compareNumbers } from './ranking.js';
import type { PlacementMove, PlacementResult } from './types.js';

export function toResult(state: PlacementState): PlacementResult {
  const assignments = dictionary<string[]>();
  const moves: PlacementMove[] = [];
  const rebalanceMoves: PlacementMove[] = [];
  const unplaced: PlacementResult['unplaced'] = [];
  for (const site of state.sites) {
    const assigned = inPreferenceOrder(state, site);
    assignments[site.id] = assigned;
    pairChanges(state, site, assigned, moves, rebalanceMoves);
    if (site.missing > 0) unplaced.push({ site: site.id, missing: site.missing, reason: missingReason(state, site) });
  }
  const byNode = (values: Float64Array): Record<string, number> => {
    const out = dictionary<number>();
    state.nodes.forEach((n, i) => {
      out[n.id] = values[i] ?? 0;
    });
    return ordinary(out);
  };
  return {
    assignments: ordinary(assignments), moves: [...moves, ...rebalanceMoves], unplaced,
    loads: byNode(finalLoads(state)), caps: byNode(state.caps), fair: byNode(state.fair),
    removed: state.input.removed, ignoredPins: state.ignoredPins,
  };
}

/**
 * Records with many keys are filled without a prototype, so V8 makes them hash tables from the
 * start; `{}` would first get a new hidden class per key added (~1.4 MB of garbage for 1,000
 * node ids, measured). `ordinary` then puts the normal prototype back.
 */
function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function ordinary<T>(filled: Record<string, T>): Record<string, T> {
  return Object.setPrototypeOf(filled, Object.prototype) as Record<string, T>;
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
 * One site's moves, appended to `moves` (or `rebalanced`): its removals, in the order they
 * happened, paired with its additions (nodes it is on now and was not on before, in preference
 * order) into moves from → to. A pair is named after its removal (the cause); an addition
 * without one is a pin, a new site's replica or a scale-up.
 */
function pairChanges(state: PlacementState, site: SiteState, assigned: readonly string[], moves: PlacementMove[], rebalanced: PlacementMove[]): void {
  if (!site.changed) return;
  const before = state.input.current.get(site.id);
  const added = before ? assigned.filter((n) => !before.includes(n)) : assigned;
  const removed = site.removed ?? NONE;
  for (let i = 0; i < Math.max(removed.length, added.length); i++) {
    const from = removed[i];
    const to = added[i];
    const reason = to !== undefined && isPinned(state, site, to) ? 'pin' : from?.reason ?? (site.isNew ? 'new-site' : 'scale-up');
    const out = reason === 'rebalance' ? rebalanced : moves;
    if (from && to !== undefined) out.push({ site: site.id, from: from.node, to, reason });
    else if (from) out.push({ site: site.id, from: from.node, reason });
    else if (to !== undefined) out.push({ site: site.id, to, reason });
  }
}

const NONE: readonly Change[] = Object.freeze([]);

function isPinned(state: PlacementState, site: SiteState, node: string): boolean {
  return site.pinned.some((p) => nodeId(state, p) === node);
}

function missingReason(state: PlacementState, site: SiteState): string {
  const n = state.nodes.length;
  if (n === 0) return 'no eligible nodes';
  return `${site.replicas} replicas must be on distinct nodes and only ${n} eligible node${n === 1 ? '' : 's'}`;
}
