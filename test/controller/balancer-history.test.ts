import test from 'ava';
import { BalancerHistory, type Counters } from '../../src/controller/balancer-history.js';

const m = (entries: Record<string, [number, number]>): Map<string, Counters> => new Map(Object.entries(entries).map(([k, [requests, errors]]) => [k, { requests, errors }]));
const T0 = 1_700_000_000_000; // a multiple of 5 s

test('cumulative counters become rates per second in 5-second buckets; only finished buckets are shown', (t) => {
  const h = new BalancerHistory();
  h.add(T0, m({ shop: [100, 0] }), m({ n1: [100, 0] }));
  h.add(T0 + 1000, m({ shop: [110, 1] }), m({ n1: [110, 1] }));
  h.add(T0 + 4000, m({ shop: [150, 5] }), m({ n1: [150, 5] }));
  t.deepEqual(h.view(T0 + 4500).t, [], 'the bucket in progress is not shown');
  h.add(T0 + 5000, m({ shop: [175, 5], blog: [3, 0] }), m({ n1: [178, 5] }));
  const v = h.view(T0 + 6000);
  t.deepEqual(v.t, [T0 / 1000]);
  t.deepEqual(v.sites['shop'], { requests: [10], errors: [1] }, '50 requests and 5 errors in 5 s');
  t.deepEqual(v.nodes['n1'], { requests: [10], errors: [1] });
  t.is(v.sites['blog'], undefined, 'blog appeared in the unfinished bucket');
  const later = h.view(T0 + 10_000);
  t.deepEqual(later.sites['shop'], { requests: [10, 5], errors: [1, 0] });
  t.deepEqual(later.sites['blog'], { requests: [null, 0], errors: [null, 0] }, 'null before a site existed, 0 on its first sight');
});

test('counters that go backwards (HAProxy reloaded) count from zero, never negative', (t) => {
  const h = new BalancerHistory();
  h.add(T0, m({ shop: [1000, 10] }), m({}));
  h.add(T0 + 1000, m({ shop: [20, 0] }), m({}));
  t.deepEqual(h.view(T0 + 5000).sites['shop'], { requests: [4], errors: [0] });
});

test('the window keeps the last 15 minutes only', (t) => {
  const h = new BalancerHistory({ resolutionMs: 5000, windowMs: 60_000 });
  for (let s = 0; s <= 300; s += 1) h.add(T0 + s * 1000, m({ shop: [s * 2, 0] }), m({}));
  const v = h.view(T0 + 300_000);
  t.is(v.t.length, 12, '60 s of 5 s buckets');
  t.is(v.t[0], (T0 + 240_000) / 1000);
  t.true(v.sites['shop']?.requests.every((r) => r === 2));
});
