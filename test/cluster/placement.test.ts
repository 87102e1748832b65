/**
 * The placement policy through the cluster story of issue 9 ("Sites on nodes"), one test per
 * scenario, then its properties (fast-check). Fleet: 12 nodes of weights 1 (×6), 2 (×4) and
 * 4 (×2); sites with loads 1–6 (skewed small), every 10th with 2 replicas. See docs/placement.md.
 */
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { placeSites, rankNodes, type PlacementNode, type PlacementResult, type PlacementSite } from '../../src/cluster/placement.js';
import { fmix32, hashId, scoreFromHigh, unitFromHigh } from '../../src/cluster/placement/hash.js';
import { Ranker } from '../../src/cluster/placement/ranking.js';
import { fleet, loadsOf, mac, movedReplicas, settle, siteSet, sitesOn } from './placement-fixtures.js';

const nodes = fleet([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4]);
const sites = siteSet(600, { maxLoad: 6, pairEvery: 10 });
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
  const unbounded: Record<string, number> = {};
  for (const s of sites) for (const node of rankNodes(s.id, nodes).slice(0, s.replicas)) unbounded[node] = (unbounded[node] ?? 0) + share(s);
  t.true(nodes.some((n) => (unbounded[n.id] ?? 0) > (boot.caps[n.id] ?? 0)), 'the caps mattered: plain rendezvous would put a node over its cap');
  t.deepEqual(boot.loads, { ...Object.fromEntries(nodes.map((n) => [n.id, 0])), ...loadsOf(boot.assignments, sites) }, 'loads reported = loads of the assignments');
  // Load per unit of weight, averaged over each weight class: the same within 10 %.
  const perWeight = [1, 2, 4].map((w) => {
    const members = nodes.filter((n) => n.weight === w);
    return members.reduce((sum, n) => sum + (boot.loads[n.id] ?? 0), 0) / (w * members.length);
  });
  const mean = perWeight.reduce((a, b) => a + b) / perWeight.length;
  for (const x of perWeight) t.true(Math.abs(x / mean - 1) < 0.1, `load per weight ${perWeight.map((v) => v.toFixed(1)).join(' / ')} for weights 1 / 2 / 4`);
  const positions = sites.filter((s) => s.replicas === 2).map((s) => (boot.assignments[s.id] ?? []).map((n) => rankNodes(s.id, nodes).indexOf(n)));
  t.deepEqual(positions.filter(([a, b]) => (a ?? 0) > (b ?? 0)), [], 'assignments list nodes in preference order');
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

test('it comes back: rejoins a few moves per call, its old sites return, no storm', (t) => {
  const dead = mac(4);
  const hadIt = sitesOn(boot.assignments, dead);
  const whileDown = placeSites({ nodes: nodes.filter((n) => n.id !== dead), sites, current: boot.assignments });
  const { final, calls } = settle({ nodes, sites, current: whileDown.assignments });
  const forced = (r: PlacementResult): number => r.moves.filter((m) => m.reason === 'over-cap').length;
  t.true(calls.every((c) => c.moves.length - forced(c) <= 2), `moves per call ${calls.map((c) => c.moves.length).join(',')}: at most maxRebalanceMoves (2) besides forced over-cap moves`);
  const moves = calls.flatMap((c) => c.moves);
  t.true(moves.every((m) => m.to === dead || m.reason === 'over-cap'), 'rebalancing only onto the returning node');
  t.true(moves.filter((m) => m.to === dead).every((m) => hadIt.includes(m.site)), 'only sites it had before return to it');
  t.true(moves.length <= hadIt.length, `${moves.length} moves in all for the ${hadIt.length} replicas it had`);
  t.true((final.loads[dead] ?? 0) >= 0.75 * (final.fair[dead] ?? 0), `back to ${final.loads[dead]}, at least (1 - ε) × fair share ${final.fair[dead]}`);
  const differences = movedReplicas(boot.assignments, final.assignments).length;
  t.true(differences <= 0.1 * hadIt.length, `${differences} replicas away from the boot layout`);
  withinCaps(t, final);
});

test('a new node joins: it takes a fair share from the sites that rank it higher, a few moves per call', (t) => {
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
  t.true(up.moves.every((m) => m.site === site.id || m.to === pin || m.reason === 'over-cap'), 'besides, only moves onto the node that came back or forced ones');

  const twoPins = placeSites({ nodes, sites: [{ id: 'solo', load: 2, replicas: 1, pinned: [mac(1), mac(2)] }], current: {} });
  t.deepEqual([...(twoPins.assignments['solo'] ?? [])].sort(), [mac(1), mac(2)], 'two pins, replicas 1: both honoured');
  t.is(twoPins.loads[mac(1)], 1, 'each pinned replica carries half the load');
});

test('min replicas 2: replicas on different nodes; a lost one is replaced elsewhere, the other stays', (t) => {
  const pairs = sites.filter((s) => s.replicas === 2);
  t.true(pairs.length >= 50);
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

// ---- Properties (fast-check) ----

interface World {
  nodes: PlacementNode[];
  sites: PlacementSite[];
  current: Record<string, string[]>;
  epsilon: number;
}

interface WorldOptions {
  pins?: boolean;
  maxReplicas?: number;
  minNodes?: number;
  maxWeight?: number;
  sites?: [number, number];
  maxLoad?: number;
  epsilons?: number[];
}

/**
 * 6–16 nodes (weights 1–4), 10–80 sites (loads 0–6, replicas 1–3, some pinned), and a messy
 * current layout: unknown nodes, duplicates, sites that no longer exist.
 */
const world = (options: WorldOptions = {}): fc.Arbitrary<World> =>
  fc.record({
    weights: fc.array(fc.integer({ min: 1, max: options.maxWeight ?? 4 }), { minLength: options.minNodes ?? 6, maxLength: 16 }),
    sites: fc.array(fc.record({
      load: fc.integer({ min: 0, max: options.maxLoad ?? 6 }),
      replicas: fc.integer({ min: 1, max: options.maxReplicas ?? 3 }),
      pins: fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: options.pins ? 2 : 0 }),
      current: fc.option(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 4 })),
    }), { minLength: options.sites?.[0] ?? 10, maxLength: options.sites?.[1] ?? 80 }),
    removed: fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 3 }),
    epsilon: fc.constantFrom(...(options.epsilons ?? [0.1, 0.25, 0.5])),
  }).map(({ weights, sites: specs, removed, epsilon }) => {
    // Node numbers up to 20 name nodes that may not be eligible (not in `nodes`).
    const nodes = weights.map((weight, i) => ({ id: mac(i), weight }));
    const current: Record<string, string[]> = {};
    const sites = specs.map((spec, i) => {
      const id = `s${i}`;
      if (spec.current) current[id] = spec.current.map(mac);
      return { id, load: spec.load, replicas: spec.replicas, ...(spec.pins.length > 0 ? { pinned: spec.pins.map(mac) } : {}) };
    });
    for (const r of removed) current[`gone${r}`] = [mac(r)];
    return { nodes, sites, current, epsilon };
  });

const fresh = (w: World): PlacementResult => placeSites({ nodes: w.nodes, sites: w.sites, current: {}, epsilon: w.epsilon });

test('property (a): when a node dies, only replicas on it (or on nodes over cap) move', (t) => {
  fc.assert(fc.property(world({ pins: true }), fc.nat(), (w, pick) => {
    const before = fresh(w);
    const dead = w.nodes[pick % w.nodes.length] as PlacementNode;
    const total = w.nodes.reduce((sum, n) => sum + n.weight, 0);
    // A node holding more than ε/(1+ε) of the weight raises every fair share beyond the old caps
    // when it dies, and rebalancing may then legitimately pull sites up their rankings.
    fc.pre(dead.weight <= (w.epsilon / (1 + w.epsilon)) * total);
    const after = placeSites({ nodes: w.nodes.filter((n) => n !== dead), sites: w.sites, current: before.assignments, epsilon: w.epsilon });
    // Loads of what stays (pins to the dead node no longer count, so a pinned site's share can grow).
    const kept = Object.fromEntries(Object.entries(before.assignments).map(([site, on]) => [site, on.filter((n) => n !== dead.id)]));
    const keptLoads = loadsOf(kept, w.sites);
    const forced = after.moves.filter((m) => m.from !== dead.id);
    if (!forced.every((m) => m.reason === 'over-cap' && (keptLoads[m.from ?? ''] ?? 0) > (after.caps[m.from ?? ''] ?? 0))) return false;
    const changed = movedReplicas(before.assignments, after.assignments);
    if (!changed.every((c) => c.node === dead.id || forced.some((m) => m.site === c.site && m.from === c.node))) return false;
    if (!after.moves.filter((m) => m.from === dead.id).every((m) => m.reason === 'node-gone')) return false;
    // Unless a site was pinned to it (its other replicas' shares grow, which can evict), or a
    // survivor had to shed a replica over its new cap (that frees room a higher-ranked site may
    // then take back: fast-check seeds 14 and 250 of 300 find such worlds), the next call has no
    // balance to restore either: the layout is still a fixed point.
    const next = placeSites({ nodes: w.nodes.filter((n) => n !== dead), sites: w.sites, current: after.assignments, epsilon: w.epsilon });
    return w.sites.some((s) => s.pinned?.includes(dead.id)) || forced.length > 0 || next.moves.every((m) => m.reason !== 'rebalance');
  }), { numRuns: 300 });
  t.pass();
});

test('property (b): no node exceeds its cap when the sites can fit, from any current layout', (t) => {
  let checked = 0;
  fc.assert(fc.property(world({ maxReplicas: 2, minNodes: 8, maxWeight: 2, sites: [100, 200], maxLoad: 3, epsilons: [0.5] }), (w) => {
    const n = w.nodes.length;
    const total = w.nodes.reduce((sum, x) => sum + x.weight, 0);
    const maxWeight = Math.max(...w.nodes.map((x) => x.weight));
    const load = w.sites.reduce((sum, s) => sum + s.load, 0);
    const maxShare = Math.max(...w.sites.map((s) => s.load / s.replicas));
    // Enough headroom that first fit always finds room (docs/placement.md "Guarantees"):
    // (1 + ε)(1 − w_max/W) ≥ 1 + (n − 1)·maxShare/L.
    fc.pre(load > 0 && (1 + w.epsilon) * (1 - maxWeight / total) >= 1 + ((n - 1) * maxShare) / load);
    checked++;
    const result = placeSites({ nodes: w.nodes, sites: w.sites, current: w.current, epsilon: w.epsilon });
    return result.unplaced.length === 0 && Object.entries(result.loads).every(([node, l]) => l <= (result.caps[node] ?? 0) + 1e-9);
  }), { numRuns: 200 });
  t.true(checked >= 100, `${checked} cases met the headroom condition`);
});

test('property (c): replicas are on distinct eligible nodes, as many as wanted and possible; repeated calls converge', (t) => {
  fc.assert(fc.property(world({ pins: true }), (w) => {
    const eligible = new Set(w.nodes.map((n) => n.id));
    const input = { nodes: w.nodes, sites: w.sites, current: w.current, epsilon: w.epsilon };
    const result = placeSites(input);
    const ok = w.sites.every((site) => {
      const on = result.assignments[site.id] ?? [];
      const pins = new Set((site.pinned ?? []).filter((p) => eligible.has(p)));
      const wanted = Math.min(Math.max(site.replicas, pins.size), w.nodes.length);
      return new Set(on).size === on.length && on.length === wanted && on.every((n) => eligible.has(n)) && [...pins].every((p) => on.includes(p));
    });
    const { calls } = settle(input, 2000);
    return ok && calls.length < 1000;
  }), { numRuns: 200 });
  t.pass();
});

test('property (d): the same input in another order gives the same output', (t) => {
  fc.assert(fc.property(world({ pins: true }), fc.infiniteStream(fc.nat()), (w, stream) => {
    const random = stream[Symbol.iterator]();
    const shuffle = <T>(xs: readonly T[]): T[] => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = (random.next().value as number) % (i + 1);
        [out[i], out[j]] = [out[j] as T, out[i] as T];
      }
      return out;
    };
    const shuffled = {
      nodes: shuffle(w.nodes),
      sites: shuffle(w.sites).map((s) => (s.pinned ? { ...s, pinned: shuffle(s.pinned) } : s)),
      current: Object.fromEntries(shuffle(Object.entries(w.current)).map(([site, on]) => [site, shuffle(on)])),
      epsilon: w.epsilon,
    };
    const a = placeSites({ ...w });
    const b = placeSites(shuffled);
    return JSON.stringify(a) === JSON.stringify(b);
  }), { numRuns: 200 });
  t.pass();
});

test('property: the fast top-k of a ranking is exactly the head of the full ranking', (t) => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 600 }), fc.string({ maxLength: 12 }), fc.integer({ min: 1, max: 40 }),
    (weights, siteId, k) => {
      const ranker = new Ranker(fleet(weights));
      const key = hashId(siteId);
      return Array.from(ranker.top(key, k)).join() === Array.from(ranker.all(key).slice(0, k)).join();
    },
  ), { numRuns: 300 });
  t.pass();
});

test('the rendezvous draw U is strictly inside (0, 1), even at the extreme hash values', (t) => {
  for (const high of [0, 1, -1, 0x7fffffff, -0x80000000]) {
    for (const [siteB, nodeB] of [[0, 0], [-1, 0], [0x12345678, -0x12345678], [-1, -1]] as const) {
      const u = unitFromHigh(high, siteB, nodeB);
      t.true(u > 0 && u < 1, `U(${high}, ${siteB}, ${nodeB}) = ${u}`);
      t.true(Number.isFinite(scoreFromHigh(high, siteB, nodeB, 1)) && scoreFromHigh(high, siteB, nodeB, 1) > 0);
    }
  }
  t.is(unitFromHigh(-1, 0, 0) < 1, true);
  t.is(fmix32(0), 0, 'fmix32 is MurmurHash3\'s finaliser: 0 maps to 0');
  t.is(fmix32(1) >>> 0, 0x514e28b7, 'and 1 to 0x514e28b7');
});

test('bad input names the node or site and the field to fix', (t) => {
  const place = (input: Partial<Parameters<typeof placeSites>[0]>): unknown => placeSites({ nodes: [], sites: [], current: {}, ...input });
  t.throws(() => place({ nodes: [{ id: mac(1), weight: 0 }] }), { message: 'placement node 52:54:00:bf:00:01: weight 0 must be a number > 0' });
  t.throws(() => place({ nodes: [{ id: mac(1), weight: 1 }, { id: mac(1), weight: 2 }] }), { message: /node 52:54:00:bf:00:01: listed twice/ });
  t.throws(() => place({ sites: [{ id: 'blog', load: -1, replicas: 1 }] }), { message: 'placement site "blog": load -1 must be a number >= 0 (its weight)' });
  t.throws(() => place({ sites: [{ id: 'blog', load: 1, replicas: 1.5 }] }), { message: /site "blog": replicas 1.5 must be an integer >= 0/ });
  t.throws(() => place({ epsilon: -0.1 }), { message: /epsilon -0.1: must be a number >= 0/ });
  t.throws(() => place({ maxRebalanceMoves: 1.5 }), { message: /maxRebalanceMoves 1.5: must be an integer >= 0/ });
  const err = t.throws(() => place({ nodes: [{ id: '', weight: 1 }] }));
  t.is((err as { code?: string } | undefined)?.code, 'ERR_CONFIG_INVALID');
});
