/**
 * The working state of one placeSites call: canonical nodes and sites, caps and fair shares,
 * each site's replicas kept from `current`, and the node loads those imply. Node indexes refer
 * to the canonical (id-sorted) node list everywhere.
 */
import { hashId, type IdKey } from './hash.js';
import type { CanonicalInput } from './input.js';
import { compareNumbers, Ranker } from './ranking.js';
import type { MoveReason, PlacementNode, PlacementSite } from './types.js';

/** Ranking entries computed up front beyond a site's replica count (see rankingAt). */
const LOOKAHEAD = 3;
/** How much further the second look goes before the whole list is computed. */
const WIDEN = 4;
/** Tolerance for float sums of loads compared with caps and fair shares. */
export const SLACK = 1e-9;

export interface Change {
  node: string;
  reason: MoveReason;
}

export interface SiteState {
  readonly id: string;
  readonly key: IdKey;
  /** Replicas wanted: the input's, raised to the number of eligible pins. */
  readonly replicas: number;
  /** Load of one replica. */
  readonly share: number;
  readonly pinned: readonly number[];
  /** No entry in `current`: its replicas are placed as 'new-site'. */
  readonly isNew: boolean;
  /** Nodes serving it. */
  nodes: number[];
  /** Some replica was added or removed in this call (additions are found by diffing with `current`). */
  changed: boolean;
  // The two lists below stay undefined until needed: most sites never need them, and at 10^4
  // sites empty arrays are a good part of what the garbage collector has to copy.
  /** Nodes it was evicted from in this call for being over cap. */
  avoid?: number[];
  removed?: Change[];
  missing: number;
  /** A prefix of its preference list (node indexes), or all of it once `rankingComplete`. */
  ranking: number[] | undefined;
  rankingComplete: boolean;
}

export interface PlacementState {
  readonly input: CanonicalInput;
  readonly nodes: readonly PlacementNode[];
  readonly ranker: Ranker;
  readonly loads: Float64Array;
  readonly caps: Float64Array;
  readonly fair: Float64Array;
  readonly sites: SiteState[];
  readonly ignoredPins: Array<{ site: string; node: string; reason: string }>;
}

export function initialState(input: CanonicalInput): PlacementState {
  const { nodes, sites, epsilon } = input;
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const state: PlacementState = {
    input, nodes, ranker: new Ranker(nodes), loads: new Float64Array(nodes.length),
    caps: new Float64Array(nodes.length), fair: new Float64Array(nodes.length), sites: [], ignoredPins: [],
  };
  for (const site of sites) state.sites.push(keepCurrent(state, site, index));
  // L counts every replica wanted (placed or not), W every eligible node.
  const totalLoad = state.sites.reduce((sum, s) => sum + s.share * s.replicas, 0);
  const totalWeight = nodes.reduce((sum, n) => sum + n.weight, 0);
  nodes.forEach((node, i) => {
    const fair = (node.weight * totalLoad) / totalWeight;
    state.fair[i] = fair;
    // cap_i = ceil((1 + ε)·w_i·L/W) (bounded loads, docs/placement.md), minus a hair so float
    // noise such as 12.000000000002 does not round up to 13.
    state.caps[i] = Math.ceil((1 + epsilon) * fair - SLACK);
  });
  return state;
}

/**
 * A site's replicas that stay where they are: eligible pins, then every current node that is
 * still eligible. Replicas on nodes that are gone are removed ('node-gone'); beyond the replica
 * count the lowest-ranked are dropped ('scale-down', or 'pin' when a new pin took the slot), so
 * removing a helper restores the layout it was added to.
 */
function keepCurrent(state: PlacementState, site: PlacementSite, index: ReadonlyMap<string, number>): SiteState {
  const key = hashId(site.id);
  const pinned = site.pinned?.length ? eligiblePins(state, site, index) : NO_PINS;
  const replicas = Math.max(site.replicas, pinned.length);
  const share = replicas > 0 ? site.load / replicas : 0;
  const on = state.input.current.get(site.id);
  const slot: SiteState = {
    id: site.id, key, replicas, share, pinned, isNew: on === undefined, nodes: [...pinned], missing: 0,
    changed: false, ranking: undefined, rankingComplete: false,
  };
  const kept: number[] = [];
  for (const id of on ?? []) {
    const at = index.get(id);
    if (at === undefined) (slot.removed ??= []).push({ node: id, reason: 'node-gone' });
    else if (!pinned.includes(at)) kept.push(at);
  }
  const newPins = pinned.some((p) => !on?.includes(nodeId(state, p)));
  const excess = pinned.length + kept.length - replicas;
  if (excess > 0) {
    kept.sort((x, y) => compareNumbers(state.ranker.score(key, x), state.ranker.score(key, y)) || x - y);
    const reason = newPins ? 'pin' : 'scale-down';
    for (const drop of kept.splice(0, excess)) (slot.removed ??= []).push({ node: nodeId(state, drop), reason });
  }
  slot.changed = newPins || slot.removed !== undefined;
  for (const n of kept) slot.nodes.push(n);
  for (const n of slot.nodes) state.loads[n] = (state.loads[n] ?? 0) + share;
  return slot;
}

const NO_PINS: readonly number[] = Object.freeze([]);

/** Pinned nodes that are eligible, by index; the others are reported, not honoured. */
function eligiblePins(state: PlacementState, site: PlacementSite, index: ReadonlyMap<string, number>): number[] {
  const pinned: number[] = [];
  for (const id of [...new Set(site.pinned)].sort()) {
    const at = index.get(id);
    if (at === undefined) state.ignoredPins.push({ site: site.id, node: id, reason: 'not eligible (down, draining, in maintenance or unknown)' });
    else pinned.push(at);
  }
  return pinned;
}

export function nodeId(state: PlacementState, i: number): string {
  return state.nodes[i]?.id ?? '';
}

/**
 * The node at `position` in the site's preference list, or -1 past its end. Computes the top
 * replicas + LOOKAHEAD first (with headroom ε almost every replica finds room there: in a
 * fresh placement of 3,000 sites ~99 % land within the first 4), then WIDEN times as many,
 * and the whole list only when a site gets that far.
 */
export function rankingAt(state: PlacementState, site: SiteState, position: number): number {
  if (!site.ranking) setRanking(state, site, site.replicas + LOOKAHEAD);
  const ranking = site.ranking as number[];
  if (position >= ranking.length && !site.rankingComplete) {
    setRanking(state, site, ranking.length * WIDEN > state.ranker.size / 4 ? state.ranker.size : ranking.length * WIDEN);
  }
  return (site.ranking as number[])[position] ?? -1;
}

function setRanking(state: PlacementState, site: SiteState, k: number): void {
  site.ranking = k >= state.ranker.size ? state.ranker.all(site.key) : state.ranker.top(site.key, k);
  site.rankingComplete = site.ranking.length === state.ranker.size;
}

/** The prefix of the site's preference list computed so far (at least the top replicas + LOOKAHEAD). */
export function topRanking(state: PlacementState, site: SiteState): number[] {
  rankingAt(state, site, 0);
  return site.ranking ?? [];
}

export function fitsUnder(state: PlacementState, node: number, share: number, limit: Float64Array): boolean {
  return (state.loads[node] ?? 0) + share <= (limit[node] ?? 0) + SLACK;
}

/** Additions are not listed: result.ts finds them by diffing with `current`, and names them. */
export function addReplica(state: PlacementState, site: SiteState, node: number): void {
  site.nodes.push(node);
  site.changed = true;
  state.loads[node] = (state.loads[node] ?? 0) + site.share;
}

export function removeReplica(state: PlacementState, site: SiteState, node: number, reason: MoveReason): void {
  site.nodes = site.nodes.filter((n) => n !== node);
  (site.removed ??= []).push({ node: nodeId(state, node), reason });
  site.changed = true;
  state.loads[node] = (state.loads[node] ?? 0) - site.share;
}
