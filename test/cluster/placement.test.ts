/**
 * The placement policy through the cluster story of issue 9 ("Sites on nodes"), one test per
 * scenario, then its properties (fast-check). Fleet: 12 nodes of weights 1 (×6), 2 (×4) and
 * 4 (×2); sites with loads 1–6 (skewed small), every 10th with 2 replicas. See docs/placement.md.
 */
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { placeSites, rankNodes, type PlacementResult, type PlacementSite } from '../../src/cluster/placement.js';
import { fleet, loadsOf, mac, movedReplicas, settle, siteSet, sitesOn } from './placement-fixtures.js';

const nodes = fleet([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4]);
const sites = siteSet(1500, { maxLoad: 6, pairEvery: 10 });
const boot = placeSites({ nodes, sites, current: {} });
const share = (site: PlacementSite): number => site.load / site.replicas;

function withinCaps(t: ExecutionContext, result: PlacementResult): void {
  const over = Object.entries(result.loads).filter(([node, load]) => load > (result.caps[node] ?? 0) + 1e-9);
  t.deepEqual(over, [], 'no node above its cap');
}

/** A replica that sits at its node because every node ranked above it was full (first fit), judged on the final loads. */
function firstFitHolds(result: PlacementResult, eligible: readonly { id: string; weight: number }[], site: PlacementSite, node: string): boolean {
  const on = result.assignments[site.id] ?? [];
  for (const candidate of rankNodes(site.id, eligible)) {
    if (candidate === node) return true;
    if (on.includes(candidate)) continue;
    if ((result.loads[candidate] ?? 0) + share(site) <= (result.caps[candidate] ?? 0)) return false;
  }
  return false;
}

test('cluster boot: every site placed on distinct nodes, loads within caps, weights respected', (t) => {
  t.deepEqual(boot.unplaced, []);
  t.is(boot.moves.length, sites.reduce((n, s) => n + s.replicas, 0), 'one new-site move per replica');
  t.true(boot.moves.every((m) => m.reason === 'new-site' && m.from === undefined));
  t.deepEqual(sites.filter((s) => new Set(boot.assignments[s.id]).size !== s.replicas).map((s) => s.id), [], 'each site on `replicas` distinct nodes');
  const notFirstFit = sites.flatMap((s) => (boot.assignments[s.id] ?? []).filter((node) => !firstFitHolds(boot, nodes, s, node)).map((node) => `${s.id}@${node}`));
  t.deepEqual(notFirstFit, [], 'each replica on the first node of its ranking that had room (every node it prefers is full)');
  withinCaps(t, boot);
  t.deepEqual(boot.loads, { ...Object.fromEntries(nodes.map((n) => [n.id, 0])), ...loadsOf(boot.assignments, sites) }, 'loads reported = loads of the assignments');
  // Load per unit of weight, averaged over each weight class: the same within 10 %.
  const perWeight = [1, 2, 4].map((w) => {
    const members = nodes.filter((n) => n.weight === w);
    return members.reduce((sum, n) => sum + (boot.loads[n.id] ?? 0), 0) / (w * members.length);
  });
  const mean = perWeight.reduce((a, b) => a + b) / perWeight.length;
  for (const x of perWeight) t.true(Math.abs(x / mean - 1) < 0.1, `load per weight ${perWeight.map((v) => v.toFixed(1)).join(' / ')} for weights 1 / 2 / 4`);
  const sorted = (r: PlacementResult): string[] => (r.assignments['site-000'] ?? []).map((n) => rankNodes('site-000', nodes).indexOf(n));
  t.deepEqual(sorted(boot), [...sorted(boot)].sort((a, b) => a - b), 'assignments list nodes in preference order');
  t.deepEqual(placeSites({ nodes, sites, current: boot.assignments }).moves, [], 'placing again moves nothing');
});

test('a node dies: its sites go to the next nodes in their ranking with room, nothing else moves', (t) => {
  const dead = mac(4);
  const survivors = nodes.filter((n) => n.id !== dead);
  const hadIt = sitesOn(boot.assignments, dead);
  const after = placeSites({ nodes: survivors, sites, current: boot.assignments });
  t.is(after.moves.length, hadIt.length, 'one move per replica the dead node had');
  t.deepEqual(after.moves.map((m) => m.site).sort(), hadIt);
  t.true(after.moves.every((m) => m.from === dead && m.reason === 'node-gone' && m.to !== undefined));
  t.deepEqual(movedReplicas(boot.assignments, after.assignments), hadIt.map((site) => ({ site, node: dead })), 'every other replica stays put');
  const notFirstFit = after.moves.filter((m) => !firstFitHolds(after, survivors, sites.find((s) => s.id === m.site) as PlacementSite, m.to ?? ''));
  t.deepEqual(notFirstFit, [], 'each went to the first node of its ranking with room');
  t.true(new Set(after.moves.map((m) => m.to)).size >= 4, 'spread over several nodes, not piled on one');
  withinCaps(t, after);
  t.is(after.loads[dead], undefined);
});

test('it comes back: rejoins a few moves per call, only its old sites return, no storm', (t) => {
  const dead = mac(4);
  const hadIt = sitesOn(boot.assignments, dead);
  const whileDown = placeSites({ nodes: nodes.filter((n) => n.id !== dead), sites, current: boot.assignments });
  const { final, calls } = settle({ nodes, sites, current: whileDown.assignments });
  t.true(calls.every((c) => c.moves.length <= 2), `moves per call ${calls.map((c) => c.moves.length).join(',')} within maxRebalanceMoves 2`);
  const moves = calls.flatMap((c) => c.moves);
  t.true(moves.every((m) => m.to === dead && m.reason === 'rebalance'), 'moves only onto the returning node');
  t.true(moves.every((m) => hadIt.includes(m.site)), 'only sites it had before return to it');
  t.true(moves.length <= hadIt.length);
  t.true((final.loads[dead] ?? 0) >= 0.75 * (final.fair[dead] ?? 0), `back to ${final.loads[dead]}, at least (1 - ε) × fair share ${final.fair[dead]}`);
  t.true(movedReplicas(boot.assignments, final.assignments).length <= hadIt.length - moves.length, 'layout back to the boot layout but for the sites that did not return');
  withinCaps(t, final);
});

test('a new node joins: it takes the share a fresh placement would give it, a few moves per call', (t) => {
  const fresh = mac(99);
  const grown = [...nodes, { id: fresh, weight: 2 }];
  const { final, calls } = settle({ nodes: grown, sites, current: boot.assignments });
  const moves = calls.flatMap((c) => c.moves);
  const forced = (r: PlacementResult): number => r.moves.filter((m) => m.reason === 'over-cap').length;
  t.true(calls.every((c) => c.moves.length <= 2 + forced(c)), 'at most maxRebalanceMoves per call besides the forced over-cap moves');
  t.true(moves.filter((m) => m.reason === 'rebalance').every((m) => m.to === fresh), 'rebalancing only fills the new node');
  const onFresh = sitesOn(final.assignments, fresh).length;
  t.is(moves.filter((m) => m.to === fresh).length, onFresh, 'each replica it took moved once');
  const elsewhere = moves.filter((m) => m.to !== fresh);
  t.true(elsewhere.every((m) => m.reason === 'over-cap'), 'other moves are only forced ones: its weight shrank the other caps');
  t.true(elsewhere.length <= nodes.length, `${elsewhere.length} over-cap moves elsewhere, at most one per old node`);
  t.is(final.loads[fresh], placeSites({ nodes: grown, sites, current: {} }).loads[fresh], 'same load as a placement from scratch');
  const load = final.loads[fresh] ?? 0;
  t.true(load >= 0.75 * (final.fair[fresh] ?? 0) && load <= (final.caps[fresh] ?? 0), `load ${load} between (1 - ε) × fair ${final.fair[fresh]} and cap ${final.caps[fresh]}`);
  withinCaps(t, final);
});

test('a new site: placed on its first-ranked node with room, nothing else moves', (t) => {
  const site = { id: 'shop.example', load: 3, replicas: 1 };
  const result = placeSites({ nodes, sites: [...sites, site], current: boot.assignments });
  const node = result.assignments['shop.example']?.[0] ?? '';
  t.deepEqual(result.moves, [{ site: 'shop.example', to: node, reason: 'new-site' }]);
  t.true(firstFitHolds(result, nodes, site, node));
  t.deepEqual(movedReplicas(boot.assignments, result.assignments), []);
});

test('a removed site: gone from every node and from the balancer, nothing else moves', (t) => {
  const gone = sites.find((s) => s.replicas === 2) as PlacementSite;
  const result = placeSites({ nodes, sites: sites.filter((s) => s !== gone), current: boot.assignments });
  // The balancer config is rendered from `assignments`: no entry, no backend.
  t.false(gone.id in result.assignments);
  t.false(Object.values(result.assignments).some((on) => on.length === 0));
  t.deepEqual(result.removed, [gone.id]);
  t.is(Object.values(result.assignments).flat().length, Object.values(boot.assignments).flat().length - 2, 'its two replicas are gone');
  for (const node of boot.assignments[gone.id] ?? []) {
    t.is(result.loads[node], (boot.loads[node] ?? 0) - gone.load / 2, `${node} lost the site's replica load`);
  }
  t.deepEqual(result.moves, []);
  t.deepEqual(movedReplicas(boot.assignments, result.assignments), []);
});

test('manual pin: respected even off its ranking, counted toward replicas, reported when the node is not eligible', (t) => {
  const site = sites.find((s) => s.replicas === 1) as PlacementSite;
  const ranked = rankNodes(site.id, nodes);
  const pin = ranked[ranked.length - 1] ?? ''; // the node it likes least
  const was = boot.assignments[site.id]?.[0] ?? '';
  const pinnedSites = sites.map((s) => (s === site ? { ...s, pinned: [pin] } : s));
  const pinned = placeSites({ nodes, sites: pinnedSites, current: boot.assignments });
  t.deepEqual(pinned.assignments[site.id], [pin], 'on the pinned node only (the pin is its one replica)');
  t.deepEqual(pinned.moves, [{ site: site.id, from: was, to: pin, reason: 'pin' }]);
  t.deepEqual(placeSites({ nodes, sites: pinnedSites, current: pinned.assignments }).moves, [], 'stays pinned');

  const down = placeSites({ nodes: nodes.filter((n) => n.id !== pin), sites: pinnedSites, current: pinned.assignments });
  t.deepEqual(down.ignoredPins, [{ site: site.id, node: pin, reason: 'not eligible (down, draining, in maintenance or unknown)' }]);
  t.is(down.assignments[site.id]?.length, 1, 'served elsewhere while its pinned node is down');
  t.not(down.assignments[site.id]?.[0], pin);
  const up = placeSites({ nodes, sites: pinnedSites, current: down.assignments });
  t.deepEqual(up.assignments[site.id], [pin], 'back on the pinned node once it is eligible again');
  t.deepEqual(up.moves.filter((m) => m.site === site.id), [{ site: site.id, from: down.assignments[site.id]?.[0] ?? '', to: pin, reason: 'pin' }]);
  t.true(up.moves.every((m) => m.site === site.id || (m.reason === 'rebalance' && m.to === pin)), 'besides, only rebalancing onto the node that came back');

  const twoPins = placeSites({ nodes, sites: [{ id: 'solo', load: 2, replicas: 1, pinned: [mac(1), mac(2)] }], current: {} });
  t.deepEqual([...(twoPins.assignments['solo'] ?? [])].sort(), [mac(1), mac(2)], 'two pins, replicas 1: both honoured');
  t.is(twoPins.loads[mac(1)], 1, 'each pinned replica carries half the load');
});

test('min replicas 2: replicas on different nodes; a lost one is replaced elsewhere, the other stays', (t) => {
  const pairs = sites.filter((s) => s.replicas === 2);
  t.true(pairs.length > 100);
  t.deepEqual(pairs.filter((s) => new Set(boot.assignments[s.id]).size !== 2).map((s) => s.id), [], 'each on two different nodes');
  const site = pairs[0] as PlacementSite;
  const [primary, second] = boot.assignments[site.id] ?? [];
  const after = placeSites({ nodes: nodes.filter((n) => n.id !== primary), sites, current: boot.assignments });
  const now = after.assignments[site.id] ?? [];
  t.is(now.length, 2);
  t.true(now.includes(second ?? ''), 'the surviving replica stays');
  t.false(now.includes(primary ?? ''));
  t.is(new Set(now).size, 2);
  const lonely = placeSites({ nodes: [{ id: mac(1), weight: 1 }], sites: [site], current: {} });
  t.deepEqual(lonely.assignments[site.id], [mac(1)]);
  t.deepEqual(lonely.unplaced, [{ site: site.id, missing: 1, reason: '2 replicas must be on distinct nodes and only 1 eligible node' }]);
  const none = placeSites({ nodes: [], sites: [site], current: {} });
  t.deepEqual(none.unplaced, [{ site: site.id, missing: 2, reason: 'no eligible nodes' }]);
});
