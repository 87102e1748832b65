import test from 'ava';
import { BootfleetError } from '../../src/errors.js';
import { Limiter, type Refusal } from '../../src/store/etcd/limiter.js';

/** A task that finishes when the test says so. */
function gate(): { task: () => Promise<string>; open: (v: string) => void; started: () => boolean } {
  let started = false;
  let open: (v: string) => void = () => undefined;
  const done = new Promise<string>((r) => (open = r));
  return { task: () => ((started = true), done), open: (v) => open(v), started: () => started };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('runs at most `concurrency` tasks at once and starts the waiting ones in order as slots free', async (t) => {
  const limiter = new Limiter({ concurrency: 2, queue: 10, maxWaitMs: 60_000 });
  const gates = [gate(), gate(), gate(), gate()];
  const results = gates.map((g) => limiter.run(g.task));
  await tick();
  t.deepEqual(gates.map((g) => g.started()), [true, true, false, false]);
  t.deepEqual(limiter.state, { running: 2, waiting: 2 });
  gates[1]?.open('b');
  t.is(await results[1], 'b');
  await tick();
  t.deepEqual(gates.map((g) => g.started()), [true, true, true, false], 'the oldest waiter takes the free slot');
  for (const [i, g] of gates.entries()) g.open(String(i));
  t.deepEqual(await Promise.all(results), ['0', 'b', '2', '3']);
  t.deepEqual(limiter.state, { running: 0, waiting: 0 });
});

test('refuses with ERR_STORE_BUSY at once when the queue is full, and says so', async (t) => {
  const refusals: Refusal[] = [];
  const limiter = new Limiter({ concurrency: 1, queue: 1, maxWaitMs: 60_000, onRefused: (why) => refusals.push(why) });
  const [a, b] = [gate(), gate()];
  const ra = limiter.run(a.task);
  const rb = limiter.run(b.task);
  const err = await t.throwsAsync(limiter.run(async () => 'never'));
  t.true(err instanceof BootfleetError && err.code === 'ERR_STORE_BUSY', String(err));
  t.deepEqual(refusals, ['queue full']);
  a.open('a');
  b.open('b');
  t.deepEqual(await Promise.all([ra, rb]), ['a', 'b']);
});

test('a task that waited longer than maxWaitMs is refused when its turn comes; the next one runs', async (t) => {
  let now = 0;
  const refusals: Refusal[] = [];
  const limiter = new Limiter({ concurrency: 1, queue: 10, maxWaitMs: 4000, now: () => now, onRefused: (why) => refusals.push(why) });
  const first = gate();
  const r1 = limiter.run(first.task);
  const stale = limiter.run(async () => 'stale');
  now = 3000;
  const fresh = limiter.run(async () => 'fresh');
  now = 5000; // the first waiter waited 5 s, the second 2 s
  first.open('first');
  t.is(await r1, 'first');
  const err = await t.throwsAsync(stale);
  t.true(err instanceof BootfleetError && err.code === 'ERR_STORE_BUSY');
  t.is(await fresh, 'fresh');
  t.deepEqual(refusals, ['waited too long']);
  t.deepEqual(limiter.state, { running: 0, waiting: 0 });
});

test('a task that throws frees its slot', async (t) => {
  const limiter = new Limiter({ concurrency: 1, queue: 1, maxWaitMs: 60_000 });
  await t.throwsAsync(limiter.run(async () => Promise.reject(new Error('etcd said no'))), { message: 'etcd said no' });
  t.is(await limiter.run(async () => 'next'), 'next');
  t.deepEqual(limiter.state, { running: 0, waiting: 0 });
});
