/** Cumulative counters of one site or node as HAProxy reports them. */
export interface Counters {
  requests: number;
  /** 5xx responses + connection errors + response errors (docs/ui.md "Balancer"). */
  errors: number;
}

/** Rates per second over time, columnar as uPlot draws them (null: the site or node did not exist then). */
export interface Series {
  requests: Array<number | null>;
  errors: Array<number | null>;
}

export interface HistoryView {
  resolutionSeconds: number;
  windowSeconds: number;
  /** Start of each bucket, seconds since the epoch (oldest first). */
  t: number[];
  sites: Record<string, Series>;
  /** By node MAC. */
  nodes: Record<string, Series>;
}

interface Bucket {
  start: number;
  sites: Map<string, Counters>;
  nodes: Map<string, Counters>;
}

/**
 * A ring of request and error rates per site and per node, fed with HAProxy's cumulative
 * counters about once a second (BalancerService.poll) and kept at `resolutionMs` buckets over
 * `windowMs` (default 5 s over 15 min: 180 buckets). Counters that go backwards mean a fresh
 * HAProxy process (a reload): the new value is what it counted since. Only finished buckets are
 * shown, so the newest point is never a partial one that looks like a drop.
 */
export class BalancerHistory {
  private readonly resolutionMs: number;
  private readonly windowMs: number;
  private buckets: Bucket[] = [];
  private last: { sites: Map<string, Counters>; nodes: Map<string, Counters> } | undefined;

  constructor(opts: { resolutionMs?: number; windowMs?: number } = {}) {
    this.resolutionMs = opts.resolutionMs ?? 5000;
    this.windowMs = opts.windowMs ?? 15 * 60_000;
  }

  /** Counters read at `at` (ms since the epoch). */
  add(at: number, sites: ReadonlyMap<string, Counters>, nodes: ReadonlyMap<string, Counters>): void {
    const start = Math.floor(at / this.resolutionMs) * this.resolutionMs;
    let bucket = this.buckets.at(-1);
    if (!bucket || bucket.start !== start) {
      bucket = { start, sites: new Map(), nodes: new Map() };
      this.buckets.push(bucket);
      const oldest = start - this.windowMs;
      while ((this.buckets[0]?.start ?? Infinity) < oldest) this.buckets.shift();
    }
    accumulate(bucket.sites, sites, this.last?.sites);
    accumulate(bucket.nodes, nodes, this.last?.nodes);
    this.last = { sites: new Map(sites), nodes: new Map(nodes) };
  }

  /** The finished buckets as rates per second. */
  view(now = Date.now()): HistoryView {
    const current = Math.floor(now / this.resolutionMs) * this.resolutionMs;
    const done = this.buckets.filter((b) => b.start < current && b.start >= current - this.windowMs);
    const seconds = this.resolutionMs / 1000;
    const columns = (pick: (b: Bucket) => Map<string, Counters>): Record<string, Series> => {
      const keys = [...new Set(done.flatMap((b) => [...pick(b).keys()]))].sort();
      return Object.fromEntries(keys.map((k) => {
        const of = (field: keyof Counters): Array<number | null> => done.map((b) => {
          const c = pick(b).get(k);
          return c === undefined ? null : round(c[field] / seconds);
        });
        return [k, { requests: of('requests'), errors: of('errors') }];
      }));
    };
    return {
      resolutionSeconds: seconds,
      windowSeconds: this.windowMs / 1000,
      t: done.map((b) => b.start / 1000),
      sites: columns((b) => b.sites),
      nodes: columns((b) => b.nodes),
    };
  }
}

/** Adds what each counter grew by since `before` into `into`; a key seen for the first time adds 0. */
function accumulate(into: Map<string, Counters>, now: ReadonlyMap<string, Counters>, before: ReadonlyMap<string, Counters> | undefined): void {
  for (const [key, c] of now) {
    const prev = before?.get(key);
    const grew = (field: keyof Counters): number => (prev === undefined ? 0 : c[field] >= prev[field] ? c[field] - prev[field] : c[field]);
    const sum = into.get(key) ?? { requests: 0, errors: 0 };
    into.set(key, { requests: sum.requests + grew('requests'), errors: sum.errors + grew('errors') });
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
