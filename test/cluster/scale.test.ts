/**
 * Overload helpers: desiredReplicas (hysteresis) and what placeSites does with the new count,
 * through the "a site is overloaded" scenario of issue 9. See docs/placement.md.
 */
import test from 'ava';
import fc from 'fast-check';
import { desiredReplicas, placeSites, rankNodes, type PlacementSite, type ScaleInput } from '../../src/cluster/placement.js';
import { fleet, movedReplicas, siteSet } from './placement-fixtures.js';

const MINUTE = 60_000;
const base: ScaleInput = { replicas: 1, minReplicas: 1, maxReplicas: 3, requestRate: 0, perReplicaCapacity: 100, lastChangeAt: 0, now: 0 };

test('a site is overloaded: a helper is added from its ranking, removed when load falls, with hysteresis', (t) => {
  const nodes = fleet([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4]);
  const sites = siteSet(600, { maxLoad: 6, pairEvery: 10 });
  const boot = placeSites({ nodes, sites, current: {} });
  const shop = sites.find((s) => s.replicas === 1 && s.load === 6) as PlacementSite;
  const home = boot.assignments[shop.id]?.[0] ?? '';

  // 130 req/s on one replica rated 100: above 0.8 × 100, so a second replica, at once.
  const up = desiredReplicas({ ...base, requestRate: 130, now: 10 * MINUTE });
  t.deepEqual(up, { replicas: 2, reason: 'overloaded: 130 req/s per replica > 0.8 × 100' });
  const withSites = (replicas: number): PlacementSite[] => sites.map((s) => (s === shop ? { ...s, replicas } : s));
  const helped = placeSites({ nodes, sites: withSites(up.replicas), current: boot.assignments });
  const helper = helped.assignments[shop.id]?.find((n) => n !== home) ?? '';
  t.deepEqual(helped.moves.filter((m) => m.site === shop.id), [{ site: shop.id, to: helper, reason: 'scale-up' }]);
  t.true(helped.assignments[shop.id]?.includes(home), 'the first replica stays');
  // The helper is the next node of the site's ranking with room for half its load.
  const ranked = rankNodes(shop.id, nodes).filter((n) => n !== home);
  const firstWithRoom = ranked.find((n) => n === helper || (helped.loads[n] ?? 0) + shop.load / 2 <= (helped.caps[n] ?? 0));
  t.is(firstWithRoom, helper);
  t.deepEqual(movedReplicas(boot.assignments, helped.assignments), [], 'no other site moves off its node');

  // Hysteresis: at 70–90 req/s two replicas stay (one would be near 0.8 × 100 again), and at
  // 30 req/s the helper stays until 5 minutes after the change.
  for (const rate of [70, 90, 78, 82, 60]) {
    t.deepEqual(desiredReplicas({ ...base, replicas: 2, requestRate: rate, lastChangeAt: 10 * MINUTE, now: 30 * MINUTE }), { replicas: 2 }, `${rate} req/s keeps 2`);
  }
  t.deepEqual(desiredReplicas({ ...base, replicas: 2, requestRate: 30, lastChangeAt: 10 * MINUTE, now: 14 * MINUTE }), { replicas: 2 }, 'within the cooldown');
  const down = desiredReplicas({ ...base, replicas: 2, requestRate: 30, lastChangeAt: 10 * MINUTE, now: 15 * MINUTE });
  t.deepEqual(down, { replicas: 1, reason: 'underloaded: 30 req/s per replica with one fewer < 0.4 × 100' });

  const after = placeSites({ nodes, sites: withSites(down.replicas), current: helped.assignments });
  t.deepEqual(after.moves.filter((m) => m.site === shop.id), [{ site: shop.id, from: helper, reason: 'scale-down' }]);
  t.deepEqual(after.assignments[shop.id], [home], 'removing the helper restores the previous layout');
  t.deepEqual(movedReplicas(boot.assignments, after.assignments), []);
});

test('scale up goes straight to enough replicas for the rate, capped at maxReplicas', (t) => {
  t.is(desiredReplicas({ ...base, requestRate: 250 }).replicas, 3, '4 wanted, maxReplicas 3');
  t.is(desiredReplicas({ ...base, maxReplicas: 10, requestRate: 250 }).replicas, 4, '250 / (0.8 × 100) → 4');
  t.deepEqual(desiredReplicas({ ...base, replicas: 3, requestRate: 900 }), { replicas: 3 }, 'already at max: stays');
  t.is(desiredReplicas({ ...base, requestRate: 80 }).replicas, 1, 'exactly 0.8 × capacity is not over');
  t.is(desiredReplicas({ ...base, requestRate: 60, lastChangeAt: 0, now: 0 }, { high: 0.5, low: 0.2 }).replicas, 2, 'policy thresholds apply');
});

test('scale down removes one replica at a time, only when the rest stay below low, never within the cooldown', (t) => {
  const quiet = { ...base, replicas: 3, requestRate: 10, lastChangeAt: 0, now: 10 * MINUTE };
  t.deepEqual(desiredReplicas(quiet).replicas, 2, 'one at a time');
  t.deepEqual(desiredReplicas({ ...quiet, now: 4 * MINUTE }), { replicas: 3 }, 'cooldown');
  t.deepEqual(desiredReplicas({ ...quiet, now: MINUTE }, { cooldownMs: 30_000 }).replicas, 2, 'policy cooldown');
  t.deepEqual(desiredReplicas({ ...quiet, requestRate: 80 }), { replicas: 3 }, '80 / 2 = 40 is not below 0.4 × 100');
  t.deepEqual(desiredReplicas({ ...quiet, requestRate: 79 }).replicas, 2);
  t.deepEqual(desiredReplicas({ ...quiet, replicas: 1, requestRate: 0 }), { replicas: 1 }, 'never below minReplicas');
});

test('replicas outside [minReplicas, maxReplicas] are clamped, with the reason', (t) => {
  t.deepEqual(desiredReplicas({ ...base, replicas: 0, minReplicas: 2, requestRate: 10, lastChangeAt: 0, now: 0 }), { replicas: 2, reason: 'clamped to [2, 3]' });
  t.deepEqual(desiredReplicas({ ...base, replicas: 5, requestRate: 10, lastChangeAt: 0, now: 0 }), { replicas: 3, reason: 'clamped to [1, 3]' });
});

test('bad scale input names the field to fix', (t) => {
  t.throws(() => desiredReplicas({ ...base, perReplicaCapacity: 0 }), { message: /perReplicaCapacity 0 must be a number > 0/ });
  t.throws(() => desiredReplicas({ ...base, maxReplicas: 0 }), { message: /maxReplicas 0 must be an integer >= minReplicas/ });
  t.throws(() => desiredReplicas(base, { low: 0.9, high: 0.8 }), { message: /low 0.9 and high 0.8: need 0 < low < high/ });
  t.throws(() => desiredReplicas({ ...base, requestRate: Number.NaN }), { message: /requestRate NaN must be a number >= 0/ });
});

test('property: a steady rate never flaps, and settles within one change per replica of range', (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 8 }),
    fc.double({ min: 0, max: 2000, noNaN: true }), fc.double({ min: 1, max: 500, noNaN: true }),
    fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.double({ min: 0.05, max: 1, noNaN: true }),
    (minReplicas, extra, start, requestRate, perReplicaCapacity, a, b) => {
      fc.pre(Math.abs(a - b) > 0.01);
      const policy = { low: Math.min(a, b), high: Math.max(a, b), cooldownMs: MINUTE };
      const maxReplicas = minReplicas + extra;
      let replicas = start;
      let lastChangeAt = 0;
      const seen: number[] = [];
      for (let step = 1; step <= extra + 4; step++) {
        const now = step * MINUTE; // every step is past the cooldown: only hysteresis can hold it
        const next = desiredReplicas({ replicas, minReplicas, maxReplicas, requestRate, perReplicaCapacity, lastChangeAt, now }, policy).replicas;
        if (next !== replicas) lastChangeAt = now;
        replicas = next;
        seen.push(replicas);
      }
      const ups = seen.slice(1).filter((r, i) => r > (seen[i] as number)).length;
      const downs = seen.slice(1).filter((r, i) => r < (seen[i] as number)).length;
      const last = seen.slice(-2);
      return !(ups > 0 && downs > 0) && last[0] === last[1];
    },
  ), { numRuns: 500 });
  t.pass();
});
