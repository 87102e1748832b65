import test from 'ava';
import { planRollout, type PlanContext, type PlanNode } from '../../src/rollout/plan.js';
import { selectNodes } from '../../src/rollout/selector.js';
import { A, B, C, V1, cluster, rolloutOf } from './fixtures.js';
import { BootfleetError, type ErrorCode } from '../../src/errors.js';

const node = (mac: string, over: Partial<PlanNode> = {}): PlanNode => ({ mac, hostname: `web-${mac.slice(-1)}`, arch: 'amd64', labels: {}, ready: true, running: V1, power: 'agent', ...over });

function ctx(over: Partial<PlanContext> = {}): PlanContext {
  return {
    nodes: [node(A), node(B, { labels: { rack: '2' } }), node(C, { labels: { rack: '2' } })],
    state: cluster(),
    findImage: (ref, arch) => (ref.startsWith('tiny-web') && arch === 'amd64' ? { name: 'tiny-web', version: '222222222222-amd64', arch: 'amd64' } : ref === 'pi-only' ? { name: 'pi-only', version: '3-arm64', arch: 'arm64' } : undefined),
    imageExists: (ref) => ref.startsWith('tiny-web') || ref === 'pi-only',
    now: new Date('2030-01-01T00:00:00Z'),
    id: 'r2',
    ...over,
  };
}

function refused(t: import('ava').ExecutionContext, fn: () => unknown, pattern: RegExp, code: ErrorCode = 'ERR_USAGE'): void {
  const err = t.throws(fn, { instanceOf: BootfleetError });
  t.is((err as BootfleetError).code, code);
  t.regex(err?.message ?? '', pattern);
}

test('a rollout is planned per node: the build for its CPU, what it runs now, pending in MAC order', (t) => {
  const r = planRollout({ image: 'tiny-web@222222222222' }, ctx());
  t.like(r, { id: 'r2', status: 'running', image: 'tiny-web@222222222222', options: { maxUnavailable: 1, canary: 1, minHealthySeconds: 10, bootDeadlineSeconds: 300 } });
  t.deepEqual(r.nodes.map((n) => [n.mac, n.phase, n.from, n.to]), [A, B, C].map((m) => [m, 'pending', V1, 'tiny-web@222222222222-amd64']));
});

test('a node already on the target build is done from the start', (t) => {
  const r = planRollout({ image: 'tiny-web' }, ctx({ nodes: [node(A, { running: 'tiny-web@222222222222-amd64' }), node(B)] }));
  t.deepEqual(r.nodes.map((n) => n.phase), ['done', 'pending']);
});

test('refused: an image that does not exist', (t) => {
  refused(t, () => planRollout({ image: 'nope@1' }, ctx()), /--image nope@1: no such image/);
  refused(t, () => planRollout({ image: '' }, ctx()), /--image is required/);
});

test('refused: an image with no build for a selected node\'s CPU, naming the node and the fix', (t) => {
  refused(t, () => planRollout({ image: 'pi-only' }, ctx()), /has no build for amd64, the CPU of web-a .*--arch amd64/);
});

test('refused: a second rollout while one runs (409)', (t) => {
  refused(t, () => planRollout({ image: 'tiny-web' }, ctx({ current: rolloutOf([{ mac: A }]) })), /rollout r1 .* is still running/, 'ERR_CONFLICT');
  const finished = rolloutOf([{ mac: A, phase: 'done' }], { status: 'done', finishedAt: '2030-01-01T00:00:00Z' });
  t.notThrows(() => planRollout({ image: 'tiny-web' }, ctx({ current: finished })), 'a finished one does not block');
});

test('refused: a selector that matches nothing', (t) => {
  refused(t, () => planRollout({ image: 'tiny-web', nodes: 'web-x' }, ctx()), /"web-x" matches no node/);
  refused(t, () => planRollout({ image: 'tiny-web', nodes: 'rack=9' }, ctx()), /"rack=9" matches no node/);
});

test('refused: a max-unavailable that would leave a site with no healthy replica', (t) => {
  refused(t, () => planRollout({ image: 'tiny-web', maxUnavailable: 3 }, ctx()), /--max-unavailable 3 would leave no healthy replica of alpha, bravo \(3 ready nodes\): use at most 2/);
  t.notThrows(() => planRollout({ image: 'tiny-web', maxUnavailable: 2 }, ctx()));
});

test('refused: a node that is not ready, and options out of range, each naming the flag', (t) => {
  refused(t, () => planRollout({ image: 'tiny-web' }, ctx({ nodes: [node(A), node(B, { ready: false }), node(C)] })), /web-b .* is not ready/);
  refused(t, () => planRollout({ image: 'tiny-web', maxUnavailable: 0 }, ctx()), /--max-unavailable 0: must be a whole number from 1/);
  refused(t, () => planRollout({ image: 'tiny-web', bootDeadlineSeconds: 1.5 }, ctx()), /--boot-deadline 1.5/);
});

test('selectors: all, MACs and hostnames (in the order given), label=value, any case of MAC', (t) => {
  const nodes = [node(C, { hostname: 'c' }), node(A, { hostname: 'a', labels: { rack: '1' } }), node(B, { hostname: 'b', labels: { rack: '2' } })];
  t.deepEqual(selectNodes(undefined, nodes).map((n) => n.hostname), ['a', 'b', 'c']);
  t.deepEqual(selectNodes('all', nodes).map((n) => n.hostname), ['a', 'b', 'c']);
  t.deepEqual(selectNodes(`c,${A.toUpperCase()}`, nodes).map((n) => n.hostname), ['c', 'a']);
  t.deepEqual(selectNodes('rack=2, a', nodes).map((n) => n.hostname), ['b', 'a']);
  t.throws(() => selectNodes('all', []), { message: /no node has booted yet/ });
});
