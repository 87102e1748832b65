/**
 * The hash behind weighted rendezvous ranking (docs/placement.md "The hash"). Not cryptographic:
 * it needs to be fast, deterministic on every platform and well mixed, so that for one site the
 * nodes' draws look independent and uniform, and two sites' rankings look unrelated.
 */

/** Two independent 32-bit hashes of an id (int32 values). */
export interface IdKey {
  readonly a: number;
  readonly b: number;
}

/** MurmurHash3's 32-bit finaliser (Appleby, SMHasher): every input bit flips each output bit with p ≈ 1/2. Returns an int32. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * Hashes an id once (per call, per site or node) into two lanes: FNV-1a and a murmur2-style
 * multiply over the UTF-16 code units, each finished with fmix32. Pair draws then only mix these.
 */
export function hashId(id: string): IdKey {
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x9747b28c | 0;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return { a: fmix32(h1 ^ id.length), b: fmix32(h2 + Math.imul(id.length, 0x9e3779b9)) };
}

/** The first 32 bits of a (site, node) draw: the high bits of U. */
export function pairHigh(site: IdKey, nodeA: number): number {
  return fmix32(site.a ^ nodeA);
}

const TWO_POW_20 = 1048576;
const TWO_POW_MINUS_52 = 1 / 4503599627370496;

/**
 * U in (0, 1) strictly from 52 bits: `high` (32 bits) then 20 bits of a second fmix32 that also
 * depends on `high`. The half-step offset keeps U away from 0 and 1 (every value is exact in a
 * double), so −ln U is finite and > 0. mcrouter maps to [0, 1) instead and lets U = 0 score 0.
 */
export function unitFromHigh(high: number, siteB: number, nodeB: number): number {
  const low = fmix32(((siteB ^ nodeB) + high) | 0) >>> 12;
  return ((high >>> 0) * TWO_POW_20 + low + 0.5) * TWO_POW_MINUS_52;
}

/**
 * The weighted rendezvous score w / −ln U (Schindelhauer & Schomaker 2005; mcrouter's
 * WeightedRendezvousHashFunc): the node with the highest score wins, and node i wins with
 * probability exactly w_i / W.
 */
export function scoreFromHigh(high: number, siteB: number, nodeB: number, weight: number): number {
  return weight / -Math.log(unitFromHigh(high, siteB, nodeB));
}
