/**
 * The site placement policy (issue 9 "Sites on nodes"): pure functions the controller calls to
 * decide which nodes serve which site, and how many. See docs/placement.md.
 */
export { placeSites } from './placement/place.js';
export { rankNodes } from './placement/ranking.js';
export { desiredReplicas, DEFAULT_SCALE_POLICY, type ScaleInput, type ScalePolicy } from './placement/scale.js';
export { DEFAULT_EPSILON, DEFAULT_MAX_REBALANCE_MOVES } from './placement/input.js';
export type {
  MoveReason, PlacementInput, PlacementMove, PlacementNode, PlacementResult, PlacementSite,
} from './placement/types.js';
