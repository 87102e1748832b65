import test from 'ava';
import { step } from '../../src/rollout/step.js';
import type { Rollout } from '../../src/rollout/types.js';
import { A, B, C, T0, V1, V2, cluster, healthyNode, rolloutOf, server, world } from './fixtures.js';

const iso = (ms: number): string => new Date(ms).toISOString();

test('a rollout starts the canary alone, asking a helper for each site that would drop below its minimum', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A }, { mac: B }, { mac: C }], { options: { maxUnavailable: 2, canary: 1, minHealthySeconds: 10, bootDeadlineSeconds: 300, drainSeconds: 30 } });
  const out = step(r, world(s, T0, { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) })).rollout;
  t.deepEqual(out.nodes.map((n) => n.phase), ['surging', 'pending', 'pending'], 'only the canary, although max-unavailable is 2');
  t.deepEqual(out.nodes[0]?.surge, { alpha: 1, bravo: 1 }, 'alpha and bravo keep 2 replicas elsewhere: one helper each');
});

test('surging waits until each helper serves the site and passes its check, then drains', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'surging', surge: { alpha: 1, bravo: 1 } }]);
  const nodes = { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) };
  t.is(step(r, world(s, T0 + 1000, nodes)).rollout.nodes[0]?.phase, 'surging', 'helpers not placed yet');
  s.placement = { alpha: [A, B, C], bravo: [A, B, C] };
  const placedNotServing = { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: { ...healthyNode(s, C, T0), servers: [server('alpha', { status: 'DOWN' }), server('bravo')] } };
  t.is(step(r, world(s, T0 + 2000, placedNotServing)).rollout.nodes[0]?.phase, 'surging', 'alpha on C does not pass its check yet');
  const all = { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) };
  t.is(step(r, world(s, T0 + 3000, all)).rollout.nodes[0]?.phase, 'draining');
});

test('a helper that never becomes healthy halts the rollout before the node is touched', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'surging', surge: { alpha: 1 } }, { mac: B }]);
  const out = step(r, world(s, T0 + 301_000, { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) })).rollout;
  t.is(out.status, 'halted');
  t.is(out.nodes[0]?.phase, 'pending', 'untouched: back to pending');
  t.regex(out.reason ?? '', /no helper became healthy/);
  t.is(out.nodes[1]?.phase, 'pending', 'no other node starts');
});

test('draining waits for the balancer to drain the node and its sessions to end, then asks for a reboot with a token', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'draining' }]);
  const up = healthyNode(s, A, T0);
  t.is(step(r, world(s, T0 + 1000, { [A]: up })).rollout.nodes[0]?.phase, 'draining', 'still UP in the balancer');
  const busy = { ...up, servers: up.servers.map((x) => ({ ...x, status: 'DRAIN', sessions: 2 })) };
  t.regex(step(r, world(s, T0 + 2000, { [A]: busy })).rollout.nodes[0]?.detail ?? '', /4 sessions open/);
  const idle = { ...up, servers: up.servers.map((x) => ({ ...x, status: 'DRAIN' })) };
  const out = step(r, world(s, T0 + 3000, { [A]: idle }));
  t.like(out.rollout.nodes[0], { phase: 'rebooting', token: 'tok1', rebootAt: iso(T0 + 3000) });
  t.deepEqual(out.power, [], 'the agent driver reboots through the cluster state, not a command');
});

test('the drain deadline reboots anyway and counts the sessions it cut; ssh nodes get their power command', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'draining', power: 'ssh' }]);
  const up = healthyNode(s, A, T0);
  const busy = { ...up, servers: up.servers.map((x) => ({ ...x, status: 'DRAIN', sessions: 1 })) };
  const out = step(r, world(s, T0 + 31_000, { [A]: busy }));
  t.like(out.rollout.nodes[0], { phase: 'rebooting', sessionsCut: 2 });
  t.deepEqual(out.power, [A]);
});

function rebooted(phase: 'rebooting' | 'booting' | 'verifying', over: Partial<Rollout['nodes'][number]> = {}): Rollout {
  return rolloutOf([{ mac: A, phase, token: 'T', rebootAt: iso(T0), since: iso(T0), ...over }, { mac: B }]);
}

test('rebooting → booting once the node shows a boot event after the reboot was asked; not for older events', (t) => {
  const s = cluster();
  const old = { ...healthyNode(s, A, T0 - 5000), events: [{ stage: 'dhcp', at: T0 - 60_000 }] };
  t.is(step(rebooted('rebooting'), world(s, T0 + 2000, { [A]: old })).rollout.nodes[0]?.phase, 'rebooting');
  const now = { ...old, events: [...old.events, { stage: 'reboot', at: T0 + 500 }] };
  t.is(step(rebooted('rebooting'), world(s, T0 + 2000, { [A]: now })).rollout.nodes[0]?.phase, 'booting');
});

test('booting → verifying when its agent started after the reboot with the token, reporting the new image', (t) => {
  const s = cluster();
  const events = [{ stage: 'reboot', at: T0 + 500 }, { stage: 'agent', at: T0 + 40_000 }];
  const oldToken = { ...healthyNode(s, A, T0 + 41_000), events, heartbeat: { at: T0 + 41_000, image: V2, bootToken: 'old', sites: [] } };
  t.is(step(rebooted('booting'), world(s, T0 + 42_000, { [A]: oldToken })).rollout.nodes[0]?.phase, 'booting', 'a heartbeat with the old token is from before the reboot');
  const back = { ...oldToken, heartbeat: { ...oldToken.heartbeat, bootToken: 'T' } };
  t.is(step(rebooted('booting'), world(s, T0 + 42_000, { [A]: back })).rollout.nodes[0]?.phase, 'verifying');
});

test('a node that comes back on the wrong image is rolled back and the rollout halts', (t) => {
  const s = cluster();
  const events = [{ stage: 'agent', at: T0 + 40_000 }];
  const wrong = { ...healthyNode(s, A, T0), events, heartbeat: { at: T0 + 41_000, image: V1, bootToken: 'T', sites: [] } };
  const out = step(rebooted('booting'), world(s, T0 + 42_000, { [A]: wrong })).rollout;
  t.like(out.nodes[0], { phase: 'rolling-back', stage: 'rebooting', token: 'tok1' });
  t.is(out.status, 'halted');
  t.regex(out.reason ?? '', /came back on tiny-web@1111.* instead of tiny-web@2222/);
  t.is(out.nodes[1]?.phase, 'pending', 'the next node does not start');
});

test('a node that does not come back by the boot deadline is rolled back', (t) => {
  const s = cluster();
  const gone = { ready: false, events: [{ stage: 'reboot', at: T0 + 500 }], servers: [] };
  const out = step(rebooted('booting'), world(s, T0 + 301_000, { [A]: gone })).rollout;
  t.is(out.nodes[0]?.phase, 'rolling-back');
  t.regex(out.reason ?? '', /did not come back on tiny-web@2222.* within 300 s/);
});

test('verifying waits for every placed site to be served and freshly checked, then readmits and observes', (t) => {
  const s = cluster();
  const hb = { at: T0 + 50_000, image: V2, bootToken: 'T', sites: ['alpha@abcdefabcdef'] };
  const half = { ready: true, heartbeat: hb, events: [], servers: [server('alpha', { status: 'DRAIN', fresh: true }), server('bravo', { status: 'DRAIN 1/2' })] };
  t.regex(step(rebooted('verifying'), world(s, T0 + 51_000, { [A]: half })).rollout.nodes[0]?.detail ?? '', /serve bravo/);
  const served = { ...half, heartbeat: { ...hb, sites: ['alpha@abcdefabcdef', 'bravo@abcdefabcdef'] } };
  t.regex(step(rebooted('verifying'), world(s, T0 + 51_000, { [A]: served })).rollout.nodes[0]?.detail ?? '', /fresh checks of bravo/);
  const fresh = { ...served, servers: [server('alpha', { status: 'DRAIN', fresh: true, errors: 3 }), server('bravo', { status: 'DRAIN', fresh: true })] };
  t.like(step(rebooted('verifying'), world(s, T0 + 52_000, { [A]: fresh })).rollout.nodes[0], { phase: 'observing', errorsBase: 3 });
});

test('verifying: sites served but a check failing for min-healthy-time (at least 10 s) is a failure, rolled back', (t) => {
  const s = cluster();
  const hb = { at: T0 + 50_000, image: V2, bootToken: 'T', sites: ['alpha@abcdefabcdef', 'bravo@abcdefabcdef'] };
  const broken = { ready: true, heartbeat: hb, events: [], servers: [server('alpha', { status: 'DOWN', check: 'L7STS 403 Forbidden' }), server('bravo', { status: 'DOWN', check: 'L7STS 403' })] };
  const first = step(rebooted('verifying'), world(s, T0 + 60_000, { [A]: broken })).rollout;
  t.like(first.nodes[0], { phase: 'verifying', failingSince: iso(T0 + 60_000) });
  const later = step(first, world(s, T0 + 70_000, { [A]: broken })).rollout;
  t.is(later.nodes[0]?.phase, 'rolling-back');
  t.regex(later.reason ?? '', /alpha fails its health check \(L7STS 403 Forbidden\)/);
});

test('observing: done after min-healthy-time without errors; a new error is a regression', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'observing', since: iso(T0), errorsBase: 3 }, { mac: B }]);
  const clean = { ...healthyNode(s, A, T0), servers: [server('alpha', { errors: 3 }), server('bravo')] };
  t.is(step(r, world(s, T0 + 5000, { [A]: clean })).rollout.nodes[0]?.phase, 'observing');
  const done = step(r, world(s, T0 + 10_000, { [A]: clean, [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) })).rollout;
  t.is(done.nodes[0]?.phase, 'done');
  t.is(done.nodes[1]?.phase, 'surging', 'the canary passed: the next node starts in the same step');
  const errored = { ...clean, servers: [server('alpha', { errors: 4 }), server('bravo')] };
  const bad = step(r, world(s, T0 + 5000, { [A]: errored })).rollout;
  t.is(bad.nodes[0]?.phase, 'rolling-back');
  t.regex(bad.reason ?? '', /regression: 1 error/);
  const reloaded = { ...clean, servers: [server('alpha', { errors: 0 }), server('bravo')] };
  t.like(step(r, world(s, T0 + 5000, { [A]: reloaded })).rollout.nodes[0], { phase: 'observing', errorsBase: 0 }, 'counters reset by a reload: a new baseline, no regression');
});

test('rolling back goes through the same reboot onto the previous image, then the node is rolled back', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'rolling-back', stage: 'rebooting', token: 'T2', rebootAt: iso(T0), failure: 'broken' }], { status: 'halted', reason: 'x' });
  const down = { ready: false, events: [{ stage: 'reboot', at: T0 + 100 }], servers: [] };
  const b1 = step(r, world(s, T0 + 1000, { [A]: down })).rollout;
  t.like(b1.nodes[0], { phase: 'rolling-back', stage: 'booting' });
  const events = [{ stage: 'agent', at: T0 + 40_000 }];
  const back = { ready: true, events, heartbeat: { at: T0 + 41_000, image: V1, bootToken: 'T2', sites: ['alpha@abcdefabcdef', 'bravo@abcdefabcdef'] }, servers: [server('alpha', { status: 'DRAIN', fresh: true }), server('bravo', { status: 'DRAIN', fresh: true })] };
  const b2 = step(b1, world(s, T0 + 42_000, { [A]: back })).rollout;
  t.like(b2.nodes[0], { phase: 'rolling-back', stage: 'verifying' });
  const b3 = step(b2, world(s, T0 + 43_000, { [A]: back })).rollout;
  t.like(b3.nodes[0], { phase: 'rolled-back', detail: `back on ${V1}: broken` });
  t.truthy(b3.finishedAt, 'halted with nothing in flight: finished');
});

test('a rollback that does not come back either leaves the node failed, released to the reconciler', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'rolling-back', stage: 'booting', token: 'T2', rebootAt: iso(T0), failure: 'broken' }], { status: 'halted' });
  const out = step(r, world(s, T0 + 301_000, { [A]: { ready: false, events: [], servers: [] } })).rollout;
  t.is(out.nodes[0]?.phase, 'failed');
  t.regex(out.nodes[0]?.detail ?? '', /left to the reconciler/);
});

test('a replayed step (after a controller restart) asks for no second reboot: the token stays', (t) => {
  const s = cluster();
  const r = rebooted('rebooting');
  const again = step(r, world(s, T0 + 1000, { [A]: healthyNode(s, A, T0 - 1000) })).rollout;
  t.like(again.nodes[0], { phase: 'rebooting', token: 'T', rebootAt: iso(T0) });
  t.deepEqual(step(r, world(s, T0 + 1000, { [A]: healthyNode(s, A, T0 - 1000) })).power, []);
});

test('a failed power driver: the node was not rebooted, so it is readmitted on its image and the rollout halts', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'rebooting', power: 'command', token: 'T', rebootAt: iso(T0), powerError: 'exit 1' }]);
  const out = step(r, world(s, T0 + 1000, { [A]: healthyNode(s, A, T0) })).rollout;
  t.is(out.nodes[0]?.phase, 'rolled-back');
  t.is(out.status, 'halted');
  t.regex(out.reason ?? '', /command power driver failed: exit 1/);
});

test('paused: no node starts; nodes in flight go on; resume starts the next', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'done' }, { mac: B }], { status: 'paused' });
  const nodes = { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) };
  t.is(step(r, world(s, T0, nodes)).rollout.nodes[1]?.phase, 'pending');
  t.is(step({ ...r, status: 'running' }, world(s, T0, nodes)).rollout.nodes[1]?.phase, 'surging');
});

test('aborted: a node not yet rebooted is released; one rebooting completes', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'draining' }, { mac: B, phase: 'booting', token: 'T', rebootAt: iso(T0) }], { status: 'aborted' });
  const out = step(r, world(s, T0 + 1000, { [A]: healthyNode(s, A, T0), [B]: { ready: false, events: [], servers: [] } })).rollout;
  t.is(out.nodes[0]?.phase, 'pending');
  t.is(out.nodes[1]?.phase, 'booting');
  t.is(out.finishedAt, undefined, 'not finished while B is in flight');
});

test('done only once every node is and the reshuffle settled (surge gone from the cluster, no hand-over)', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'done' }, { mac: B, phase: 'done' }]);
  s.surge = { alpha: 1 };
  t.is(step(r, world(s, T0, {})).rollout.status, 'running', 'surge still in the cluster state');
  s.surge = {};
  t.is(step(r, world(s, T0, {}, { settled: false })).rollout.status, 'running', 'hand-overs in progress');
  const out = step(r, world(s, T0, {})).rollout;
  t.is(out.status, 'done');
  t.is(out.finishedAt, iso(T0));
});

test('with max-unavailable 2 after the canary, two nodes are in flight at once', (t) => {
  const s = cluster();
  const opts = { maxUnavailable: 2, canary: 1, minHealthySeconds: 10, bootDeadlineSeconds: 300, drainSeconds: 30 };
  const r = rolloutOf([{ mac: A, phase: 'done', from: V1 }, { mac: B }, { mac: C }], { options: opts });
  const nodes = { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) };
  const out = step(r, world(s, T0, nodes)).rollout;
  t.deepEqual(out.nodes.map((n) => n.phase), ['done', 'surging', 'surging']);
});

test('the next node starts only once the cluster has dropped the finished node\'s helpers', (t) => {
  const s = cluster();
  const r = rolloutOf([{ mac: A, phase: 'done', surge: { alpha: 1 } }, { mac: B }]);
  const nodes = { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) };
  t.is(step(r, world({ ...s, surge: { alpha: 1 } }, T0, nodes)).rollout.nodes[1]?.phase, 'pending', 'the surge is still in the cluster state');
  t.is(step(r, world(s, T0, nodes, { settled: false })).rollout.nodes[1]?.phase, 'pending', 'the reconciler has not settled');
  t.is(step(r, world(s, T0, nodes)).rollout.nodes[1]?.phase, 'surging');
});

test('surging asks for more helpers when a site is still short after the reconciler placed all it was asked', (t) => {
  const s = { ...cluster(), surge: { bravo: 1 } };
  s.placement = { alpha: [A, B], bravo: [A, B, C] };
  const r = rolloutOf([{ mac: A, phase: 'surging', surge: { bravo: 1 } }]);
  const nodes = { [A]: healthyNode(s, A, T0), [B]: healthyNode(s, B, T0), [C]: healthyNode(s, C, T0) };
  const out = step(r, world(s, T0, nodes)).rollout.nodes[0];
  t.deepEqual(out?.surge, { bravo: 1, alpha: 1 }, 'alpha has one replica elsewhere (B) and needs two');
  t.deepEqual(step({ ...r, nodes: [out ?? r.nodes[0]!] }, world(s, T0, nodes)).rollout.nodes[0]?.surge, { bravo: 1, alpha: 1 }, 'not again while the cluster state lags behind');
});
