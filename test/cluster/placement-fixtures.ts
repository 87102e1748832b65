/** Small builders for the placement tests: fleets, sites, and running placement to a fixed point. */
import { placeSites, type PlacementInput, type PlacementNode, type PlacementResult, type PlacementSite } from '../../src/cluster/placement.js';

/** A seeded generator (LCG): the same fleet every run. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

export function mac(i: number): string {
  return `52:54:00:bf:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

/** Nodes with the given weights, ids 52:54:00:bf:00:01, …:02, … */
export function fleet(weights: number[]): PlacementNode[] {
  return weights.map((weight, i) => ({ id: mac(i + 1), weight }));
}

/** `count` sites named site-000…, loads 1..maxLoad skewed small, every `pairEvery`-th with 2 replicas. */
export function siteSet(count: number, options: { seed?: number; maxLoad?: number; pairEvery?: number } = {}): PlacementSite[] {
  const random = seeded(options.seed ?? 1);
  return Array.from({ length: count }, (_, i) => ({
    id: `site-${String(i).padStart(3, '0')}`,
    load: 1 + Math.floor((options.maxLoad ?? 5) * random() ** 2),
    replicas: options.pairEvery && i % options.pairEvery === 0 ? 2 : 1,
  }));
}

/** Calls placeSites again with its own result as `current` until nothing moves (at most `limit` calls). */
export function settle(input: PlacementInput, limit = 500): { final: PlacementResult; calls: PlacementResult[] } {
  const calls: PlacementResult[] = [];
  let current = input.current;
  for (let i = 0; i < limit; i++) {
    const result = placeSites({ ...input, current });
    calls.push(result);
    if (result.moves.length === 0) return { final: result, calls };
    current = result.assignments;
  }
  throw new Error(`placement did not settle within ${limit} calls`);
}

/** Replicas that changed node between two layouts: pairs (site, node) present before and not after. */
export function movedReplicas(before: Readonly<Record<string, readonly string[]>>, after: Readonly<Record<string, readonly string[]>>): Array<{ site: string; node: string }> {
  const out: Array<{ site: string; node: string }> = [];
  for (const [site, on] of Object.entries(before)) {
    const now = after[site];
    if (!now) continue;
    for (const node of on) if (!now.includes(node)) out.push({ site, node });
  }
  return out;
}

/** Node loads recomputed from assignments (a replica carries load / replicas). */
export function loadsOf(assignments: Readonly<Record<string, readonly string[]>>, sites: readonly PlacementSite[]): Record<string, number> {
  const loads: Record<string, number> = {};
  for (const site of sites) {
    const on = assignments[site.id] ?? [];
    for (const node of on) loads[node] = (loads[node] ?? 0) + site.load / Math.max(site.replicas, on.length);
  }
  return loads;
}

export function sitesOn(assignments: Readonly<Record<string, readonly string[]>>, node: string): string[] {
  return Object.entries(assignments).filter(([, on]) => on.includes(node)).map(([site]) => site).sort();
}
