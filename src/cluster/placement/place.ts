/**
 * placeSites: the site placement policy (issue 9 "Sites on nodes"; docs/placement.md). Pure and
 * deterministic: the same nodes, sites and current layout give the same result whatever the
 * order of arrays and object keys.
 *
 *   1. keep every current replica on an eligible node (pins first), drop replicas on gone nodes
 *      and, beyond the replica count, the lowest-ranked ones;
 *   2. relieve nodes over cap_i = ceil((1 + ε)·w_i·L/W);
 *   3. place missing replicas largest first, each on the first node of the site's weighted
 *      rendezvous preference list with room under its cap;
 *   4. move at most maxRebalanceMoves replicas up their preference lists onto under-filled nodes.
 */
import { canonicalInput } from './input.js';
import { rebalance } from './rebalance.js';
import { evictOverCap, fillMissing } from './repair.js';
import { toResult } from './result.js';
import { initialState } from './state.js';
import type { PlacementInput, PlacementResult } from './types.js';

export function placeSites(input: PlacementInput): PlacementResult {
  const canonical = canonicalInput(input);
  const state = initialState(canonical);
  evictOverCap(state);
  fillMissing(state);
  rebalance(state, canonical.maxRebalanceMoves);
  return toResult(state);
}
