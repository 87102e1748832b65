/**
 * The placement policy's vocabulary (docs/placement.md). Everything here is plain data so the
 * controller can persist, diff and display it; the functions that use it are pure.
 */

export interface PlacementNode {
  /** Node id (its MAC, e.g. 52:54:00:bf:00:01). */
  id: string;
  /** Capacity weight > 0: a node of weight 2 is meant to carry twice the load of weight 1. */
  weight: number;
}

export interface PlacementSite {
  /** Site name. */
  id: string;
  /** Expected load (the site's weight) >= 0; each replica carries load / replicas. */
  load: number;
  /**
   * How many nodes should serve it now (an integer >= 0), already clamped to the site's
   * [minReplicas, maxReplicas] by the caller (see desiredReplicas in scale.ts).
   */
  replicas: number;
  /**
   * Nodes an operator pinned it to (`bootfleet assign`): kept there while those nodes are
   * eligible, and counted toward replicas (more eligible pins than replicas raise replicas).
   */
  pinned?: string[];
}

export interface PlacementInput {
  /** ONLY eligible nodes: alive, ready, not draining, in maintenance or down. */
  nodes: PlacementNode[];
  sites: PlacementSite[];
  /**
   * Site id -> node ids serving it now. May name nodes that are no longer eligible and sites
   * that no longer exist.
   */
  current: Readonly<Record<string, readonly string[]>>;
  /** Headroom over the fair share before a node counts as full; default 0.25. */
  epsilon?: number;
  /**
   * Moves allowed purely for balance (a node joined or is under-filled) per call; default 2.
   * Moves forced by gone or over-cap nodes are never limited.
   */
  maxRebalanceMoves?: number;
}

export type MoveReason = 'node-gone' | 'over-cap' | 'rebalance' | 'scale-up' | 'scale-down' | 'new-site' | 'pin';

/**
 * One replica changing place: `from` only (a replica dropped), `to` only (a replica added) or
 * both (a replica moved). The reason is the cause: the removal's when there is one.
 */
export interface PlacementMove {
  site: string;
  from?: string;
  to?: string;
  reason: MoveReason;
}

export interface PlacementResult {
  /**
   * Every input site -> distinct node ids, in the site's preference order (its rendezvous
   * ranking), so the first is its most preferred node. Independent of the history of moves.
   */
  assignments: Record<string, string[]>;
  /** Sites in id order; within a site, removals in the order decided paired with additions in preference order; rebalance moves last. */
  moves: PlacementMove[];
  /** Replicas that could not be placed, e.g. replicas 2 with one eligible node. */
  unplaced: Array<{ site: string; missing: number; reason: string }>;
  /** Node id -> load after placement (sum of the replica loads on it). */
  loads: Record<string, number>;
  /** Node id -> cap used: ceil((1 + epsilon) * weight * L / W). */
  caps: Record<string, number>;
  /** Node id -> fair share weight * L / W (what rebalancing fills an under-filled node up to). */
  fair: Record<string, number>;
  /** Sites in `current` that are not in `sites` any more, sorted: gone from every node. */
  removed: string[];
  /** Pins to nodes that are not eligible: reported, not honoured. */
  ignoredPins: Array<{ site: string; node: string; reason: string }>;
}
