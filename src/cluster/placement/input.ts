/**
 * Checks a PlacementInput and puts it in canonical order (nodes and sites sorted by id), so the
 * result never depends on the order of arrays or object keys. Bad values are a caller bug or a
 * bad config value; the error names the node or site and the field to fix.
 */
import { BootfleetError } from '../../errors.js';
import { compareIds } from './ranking.js';
import type { PlacementInput, PlacementNode, PlacementSite } from './types.js';

export const DEFAULT_EPSILON = 0.25;
export const DEFAULT_MAX_REBALANCE_MOVES = 2;

export interface CanonicalInput {
  nodes: PlacementNode[];
  sites: PlacementSite[];
  /** Site id -> distinct node ids it is on now, sorted (only for sites that have an entry). */
  current: Map<string, readonly string[]>;
  /** Sites with a `current` entry but no longer in `sites`, sorted. */
  removed: string[];
  epsilon: number;
  maxRebalanceMoves: number;
}

export function canonicalInput(input: PlacementInput): CanonicalInput {
  const nodes = [...input.nodes].sort((x, y) => compareIds(x.id, y.id));
  const sites = [...input.sites].sort((x, y) => compareIds(x.id, y.id));
  nodes.forEach((node, i) => checkNode(node, nodes[i - 1]));
  sites.forEach((site, i) => checkSite(site, sites[i - 1]));
  const epsilon = input.epsilon ?? DEFAULT_EPSILON;
  if (!Number.isFinite(epsilon) || epsilon < 0) invalid(`placement epsilon ${epsilon}: must be a number >= 0 (e.g. 0.25)`);
  const maxRebalanceMoves = input.maxRebalanceMoves ?? DEFAULT_MAX_REBALANCE_MOVES;
  if (!Number.isInteger(maxRebalanceMoves) || maxRebalanceMoves < 0) {
    invalid(`placement maxRebalanceMoves ${maxRebalanceMoves}: must be an integer >= 0`);
  }
  const siteIds = new Set(sites.map((s) => s.id));
  const current = new Map<string, readonly string[]>();
  const removed: string[] = [];
  for (const site of Object.keys(input.current)) {
    const on = input.current[site];
    if (!Array.isArray(on) || on.some((n) => typeof n !== 'string')) invalid(`placement current["${site}"]: must be a list of node ids`);
    if (siteIds.has(site)) current.set(site, sortedDistinct(on));
    else removed.push(site);
  }
  removed.sort(compareIds);
  return { nodes, sites, current, removed, epsilon, maxRebalanceMoves };
}

/** The ids sorted and without repeats; the list itself when it already is (the usual case: our own output). */
function sortedDistinct(ids: readonly string[]): readonly string[] {
  for (let i = 1; i < ids.length; i++) {
    if (compareIds(ids[i - 1] ?? '', ids[i] ?? '') >= 0) return [...new Set(ids)].sort(compareIds);
  }
  return ids;
}

function checkNode(node: PlacementNode, previous: PlacementNode | undefined): void {
  if (typeof node.id !== 'string' || node.id === '') invalid(`placement node id ${JSON.stringify(node.id)}: must be a non-empty string (its MAC)`);
  if (previous?.id === node.id) invalid(`placement node ${node.id}: listed twice; list each eligible node once`);
  if (typeof node.weight !== 'number' || !Number.isFinite(node.weight) || node.weight <= 0) {
    invalid(`placement node ${node.id}: weight ${node.weight} must be a number > 0`);
  }
}

function checkSite(site: PlacementSite, previous: PlacementSite | undefined): void {
  if (typeof site.id !== 'string' || site.id === '') invalid(`placement site id ${JSON.stringify(site.id)}: must be a non-empty string (its name)`);
  if (previous?.id === site.id) invalid(`placement site "${site.id}": listed twice; list each site once`);
  if (typeof site.load !== 'number' || !Number.isFinite(site.load) || site.load < 0) {
    invalid(`placement site "${site.id}": load ${site.load} must be a number >= 0 (its weight)`);
  }
  if (!Number.isInteger(site.replicas) || site.replicas < 0) {
    invalid(`placement site "${site.id}": replicas ${site.replicas} must be an integer >= 0`);
  }
  if (site.pinned !== undefined && (!Array.isArray(site.pinned) || site.pinned.some((n) => typeof n !== 'string'))) {
    invalid(`placement site "${site.id}": pinned must be a list of node ids`);
  }
}

function invalid(message: string): never {
  throw new BootfleetError('ERR_CONFIG_INVALID', message);
}
