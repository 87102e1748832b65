/**
 * Each site's preference list over the eligible nodes: nodes sorted by their weighted rendezvous
 * score for that site, ties (practically never: 52-bit draws) to the smaller node id. Usually
 * only the first few entries matter, so `top` finds the best k without scoring every node in
 * full (docs/placement.md "Finding the top few nodes fast").
 */
import { fmix32, hashId, pairHigh, scoreFromHigh, type IdKey } from './hash.js';
import type { PlacementNode } from './types.js';

/**
 * Nodes expected to pass the gate: SPARE × k on the first try (too few pass for about 4 % of
 * sites at k = 4), then a looser gate, then the exact full ranking.
 */
const SPARES = [2, 8];
const SIGN = 0x80000000 | 0;

export class Ranker {
  readonly size: number;
  private readonly nodeA: Int32Array;
  private readonly nodeB: Int32Array;
  private readonly weight: Float64Array;
  private readonly totalWeight: number;
  /** Per (k, spare): the score threshold T and, per node, the smallest high draw that can beat T (sign-flipped). */
  private readonly gates = new Map<number, { threshold: number; minHigh: Int32Array }>();
  private readonly scratchNode: Int32Array;
  private readonly scratchHigh: Int32Array;
  private readonly scratchScore: Float64Array;

  /** `nodes` must already be in their canonical order (sorted by id): indexes refer to it. */
  constructor(nodes: readonly PlacementNode[]) {
    this.size = nodes.length;
    this.nodeA = new Int32Array(this.size);
    this.nodeB = new Int32Array(this.size);
    this.weight = new Float64Array(this.size);
    this.scratchNode = new Int32Array(this.size);
    this.scratchHigh = new Int32Array(this.size);
    this.scratchScore = new Float64Array(this.size);
    let total = 0;
    nodes.forEach((node, i) => {
      const key = hashId(node.id);
      this.nodeA[i] = key.a;
      this.nodeB[i] = key.b;
      this.weight[i] = node.weight;
      total += node.weight;
    });
    this.totalWeight = total;
  }

  /** The score of node `i` for `site`. */
  score(site: IdKey, i: number): number {
    return scoreFromHigh(pairHigh(site, this.nodeA[i] ?? 0), site.b, this.nodeB[i] ?? 0, this.weight[i] ?? 0);
  }

  /** All node indexes, best first. */
  all(site: IdKey): number[] {
    const scores = new Float64Array(this.size);
    const order = new Int32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      scores[i] = this.score(site, i);
      order[i] = i;
    }
    return Array.from(order.sort((x, y) => compareNumbers(scores[y] ?? 0, scores[x] ?? 0) || x - y));
  }

  /**
   * The best min(k, size) node indexes, best first; exactly `all(site).subarray(0, k)`.
   *
   * A node beats score T only if U > exp(−w/T). With T = W / (spare·k), about spare·k nodes pass
   * (node i passes with probability ≈ w_i / T). The 32-bit high draw alone decides that
   * conservatively, so most nodes cost one fmix32 and one integer compare; only the passing
   * ones get the second mix and the log. If fewer than k passing nodes score above T, the
   * gate was too tight for this site: a looser one is tried, then the exact full ranking.
   */
  top(site: IdKey, k: number): number[] {
    const want = Math.min(k, this.size);
    if (want <= 0) return [];
    for (const spare of SPARES) {
      if (this.size <= 4 * spare * want) break;
      const best = this.gatedTop(site, want, spare);
      if (best) return best;
    }
    return this.all(site).slice(0, want);
  }

  /** One gated pass: the exact top `want`, or undefined when fewer than `want` nodes beat the gate. */
  private gatedTop(site: IdKey, want: number, spare: number): number[] | undefined {
    const { threshold, minHigh } = this.gate(want, spare);
    // Two loops: the first only hashes and gates (kept this small, V8 runs it about twice as
    // fast as one loop that also scores), the second scores the few nodes that passed.
    // Locals, and `as number` instead of `?? 0`: every index is in range by construction.
    const siteA = site.a;
    const nodeA = this.nodeA;
    const passed = this.scratchNode;
    const passedHigh = this.scratchHigh;
    const size = this.size;
    let count = 0;
    for (let i = 0; i < size; i++) {
      const high = fmix32(siteA ^ (nodeA[i] as number));
      if ((high ^ SIGN) >= (minHigh[i] as number)) {
        passed[count] = i;
        passedHigh[count] = high;
        count++;
      }
    }
    if (count < want) return undefined;
    const bestScore = this.scratchScore;
    const bestNode: number[] = []; // a plain array: a typed one costs an ArrayBuffer too, per site
    let found = 0;
    let worst = -Infinity; // the want-th best score so far, once `found === want`
    for (let c = 0; c < count; c++) {
      const i = passed[c] as number;
      const score = scoreFromHigh(passedHigh[c] as number, site.b, this.nodeB[i] as number, this.weight[i] as number);
      if (score <= worst) continue;
      // Insertion into the short sorted list; nodes come in index order, so equal scores keep
      // the smaller index first.
      let at = found < want ? found++ : want - 1;
      while (at > 0 && (bestScore[at - 1] as number) < score) {
        bestScore[at] = bestScore[at - 1] as number;
        bestNode[at] = bestNode[at - 1] as number;
        at--;
      }
      bestScore[at] = score;
      bestNode[at] = i;
      if (found === want) worst = bestScore[want - 1] as number;
    }
    return worst >= threshold ? bestNode : undefined;
  }

  private gate(k: number, spare: number): { threshold: number; minHigh: Int32Array } {
    const cacheKey = k * 64 + spare;
    let gate = this.gates.get(cacheKey);
    if (!gate) {
      const threshold = this.totalWeight / (spare * k);
      const minHigh = new Int32Array(this.size);
      for (let i = 0; i < this.size; i++) {
        // score >= T needs U >= exp(−w/T); U < (high + 1) / 2^32, so high >= floor(exp(−w/T)·2^32) − 1.
        const lowest = Math.max(0, Math.floor(Math.exp(-(this.weight[i] ?? 0) / threshold) * 4294967296) - 1);
        minHigh[i] = (lowest - 2147483648) | 0; // unsigned order as signed int32 order
      }
      gate = { threshold, minHigh };
      this.gates.set(cacheKey, gate);
    }
    return gate;
  }
}

/** A site's full preference list over `nodes` (node ids, best first): for display and tests. */
export function rankNodes(siteId: string, nodes: readonly PlacementNode[]): string[] {
  const sorted = [...nodes].sort((x, y) => compareIds(x.id, y.id));
  const order = new Ranker(sorted).all(hashId(siteId));
  return Array.from(order, (i) => sorted[i]?.id ?? '');
}

/**
 * -1, 0 or 1. Sort comparators return this rather than a difference of doubles: a double result
 * is boxed on every call from the sort builtin, and the sorts here run ~10^5 comparisons.
 */
export function compareNumbers(x: number, y: number): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Code-unit order: locale-independent, so the same ids sort the same everywhere. */
export function compareIds(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
