import test from 'ava';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeasePool, type LeasePoolOptions } from '../../src/dhcp/leases.js';

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';
const R = '52:54:00:00:00:99';

/** A pool on a fresh temp dir with a hand-driven clock. */
async function setup(t: { teardown: (fn: () => Promise<void>) => void }, extra: Partial<LeasePoolOptions> = {}) {
  const stateDir = await mkdtemp(join(tmpdir(), 'bf-leases-'));
  const pools: LeasePool[] = [];
  // Wait for the pools' pending atomic writes first, or rm races a temp file into the dir.
  t.teardown(async () => {
    await Promise.all(pools.map((p) => p.saved().catch(() => undefined)));
    await rm(stateDir, { recursive: true, force: true });
  });
  const clock = { now: 1_000_000 };
  const opts: LeasePoolOptions = {
    range: ['198.18.0.100', '198.18.0.102'],
    reservations: { [R]: '198.18.0.50' },
    leaseSeconds: 3600,
    offerSeconds: 60,
    declineSeconds: 600,
    stateDir,
    now: () => clock.now,
    ...extra,
  };
  const pool = await LeasePool.open(opts);
  pools.push(pool);
  return { pool, clock, opts, stateDir };
}

test('offers the lowest free address and keeps offering it to the same client', async (t) => {
  const { pool } = await setup(t);
  t.is(pool.offer(A), '198.18.0.100');
  t.is(pool.offer(B), '198.18.0.101');
  t.is(pool.offer(A), '198.18.0.100');
});

test('a requested free address is honoured; a taken one is not', async (t) => {
  const { pool } = await setup(t);
  t.is(pool.offer(A, '198.18.0.102'), '198.18.0.102');
  t.truthy(pool.commit(A, '198.18.0.102'));
  t.is(pool.offer(B, '198.18.0.102'), '198.18.0.100');
  t.is(pool.offer(C, '198.18.0.7'), '198.18.0.101', 'outside the range is not honoured');
});

test('a reservation always goes to its MAC and never to anyone else', async (t) => {
  const { pool } = await setup(t);
  t.is(pool.offer(R, '198.18.0.100'), '198.18.0.50');
  t.truthy(pool.commit(R, '198.18.0.50'));
  t.is(pool.commit(R, '198.18.0.101'), undefined, 'the reserved MAC gets only its address');
  t.is(pool.commit(A, '198.18.0.50'), undefined);
  t.is(pool.offer(A, '198.18.0.50'), '198.18.0.100');
});

test('an offer holds the address for offerSeconds, then others may take it', async (t) => {
  const { pool, clock } = await setup(t);
  t.is(pool.offer(A), '198.18.0.100');
  t.is(pool.commit(B, '198.18.0.100'), undefined);
  clock.now += 61_000;
  t.truthy(pool.commit(B, '198.18.0.100'));
});

test('a bound lease expires after leaseSeconds; the old client still gets it back while nobody took it', async (t) => {
  const { pool, clock } = await setup(t);
  pool.offer(A);
  const lease = pool.commit(A, '198.18.0.100');
  t.is(lease?.expiresAt, clock.now + 3600_000);
  clock.now += 3599_000;
  t.is(pool.commit(B, '198.18.0.100'), undefined, 'still bound');
  clock.now += 2_000;
  t.is(pool.offer(A), '198.18.0.100', 'previous address preferred');
});

test('new clients get never-used addresses before expired ones, then the expired ones', async (t) => {
  const { pool, clock } = await setup(t);
  pool.commit(A, '198.18.0.100');
  clock.now += 3601_000;
  t.is(pool.offer(B), '198.18.0.101', 'skips A\'s expired address while fresh ones remain');
  pool.commit(B, '198.18.0.101');
  pool.commit(C, pool.offer(C) ?? '');
  t.is(pool.leaseFor(C)?.ip, '198.18.0.102');
  t.is(pool.offer('52:54:00:00:00:0d'), '198.18.0.100', 'then reuses the expired one');
  t.is(pool.leaseFor(A), undefined, 'A lost its record to the new holder');
});

test('the pool is exhausted when every address is live', async (t) => {
  const { pool } = await setup(t);
  for (const mac of [A, B, C]) pool.commit(mac, pool.offer(mac) ?? '');
  t.is(pool.offer('52:54:00:00:00:0d'), undefined);
});

test('release frees the address at once and records the release', async (t) => {
  const { pool } = await setup(t);
  pool.commit(A, pool.offer(A) ?? '');
  t.false(pool.release(B, '198.18.0.100'), 'only the holder can release');
  t.true(pool.release(A, '198.18.0.100'));
  t.is(pool.leaseFor(A)?.state, 'released');
  t.truthy(pool.commit(B, '198.18.0.100'));
});

test('decline quarantines the address for declineSeconds', async (t) => {
  const { pool, clock } = await setup(t);
  t.is(pool.offer(A), '198.18.0.100');
  t.false(pool.decline(B, '198.18.0.100'), 'a client cannot decline an address it was not given');
  t.true(pool.decline(A, '198.18.0.100'));
  t.is(pool.offer(A), '198.18.0.101');
  t.is(pool.commit(B, '198.18.0.100'), undefined);
  clock.now += 601_000;
  t.truthy(pool.commit(B, '198.18.0.100'));
});

test('leases survive a new LeasePool on the same stateDir, written atomically to leases.json', async (t) => {
  const { pool, clock, opts, stateDir } = await setup(t);
  pool.commit(A, pool.offer(A) ?? '');
  pool.commit(B, pool.offer(B) ?? '');
  pool.release(B, '198.18.0.101');
  pool.offer(C);
  pool.decline(C, '198.18.0.102');
  await pool.saved();
  t.deepEqual(await readdir(stateDir), ['leases.json'], 'no temp files left behind');
  const onDisk = JSON.parse(await readFile(join(stateDir, 'leases.json'), 'utf8'));
  t.is(onDisk.leases.length, 2);

  const again = await LeasePool.open(opts);
  t.deepEqual(again.leases(), pool.leases());
  t.is(again.leaseFor(A)?.state, 'bound');
  t.is(again.leaseFor(B)?.state, 'released');
  t.is(again.commit(C, '198.18.0.102'), undefined, 'quarantine survives too');
  clock.now += 10_000;
  t.is(again.offer(A), '198.18.0.100');
});

test('a corrupt leases.json is a clear ERR_STATE_CORRUPT, not an empty pool', async (t) => {
  const { opts, stateDir } = await setup(t);
  await writeFile(join(stateDir, 'leases.json'), '{"version": 1, "leases": [');
  await t.throwsAsync(LeasePool.open(opts), { code: 'ERR_STATE_CORRUPT', message: /leases\.json is not valid JSON/ });
  await writeFile(join(stateDir, 'leases.json'), '{"version": 7}');
  await t.throwsAsync(LeasePool.open(opts), { code: 'ERR_STATE_CORRUPT', message: /unknown format/ });
});

test('records that no longer fit the range are dropped on load', async (t) => {
  const { pool, opts } = await setup(t);
  pool.commit(A, '198.18.0.102');
  await pool.saved();
  const smaller = await LeasePool.open({ ...opts, range: ['198.18.0.100', '198.18.0.101'] });
  t.is(smaller.leaseFor(A), undefined);
});
