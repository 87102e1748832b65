import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { clusterLabOn, loadStats, type ClusterLab } from '../helpers/cluster-lab.js';
import { requireLab, withLab } from '../helpers/lab.js';
import { buildReleases, type Release } from '../helpers/rollout-images.js';
import { finished, releases, settledSites, status } from '../helpers/rollout-lab.js';

// Issue 10 end to end: real QEMU tiny-web nodes that really reboot, the managed HAProxy, the real
// CLI, and a client loop through the balancer for the whole rollout that counts failed requests.

const SITES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

async function rolloutLab(t: ExecutionContext, nodes: number): Promise<{ c: ClusterLab; refs: Record<Release, string> }> {
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const refs = await buildReleases(join(lab.logDir, 'recipes'), store);
  // Heartbeats every 2 s and down after 15 s: a TCG guest on a busy 2-core machine can miss a few
  // heartbeats, and a node wrongly declared down would move sites while another one reboots.
  const config = { cluster: { heartbeatSeconds: 2, downAfterSeconds: 15, overload: { high: 0.8, low: 0.4, cooldownSeconds: 300 } } };
  const c = await clusterLabOn(lab, { nodes, store, image: refs.v1, reboot: true, config });
  return { c, refs };
}

async function refused(t: ExecutionContext, c: ClusterLab, args: string[], pattern: RegExp): Promise<void> {
  const err = await t.throwsAsync(c.ctl.cli('rollout', 'start', ...args));
  t.regex(String((err as { stderr?: string } | undefined)?.stderr ?? err?.message), pattern, `rollout start ${args.join(' ')}`);
}

function loadAll(c: ClusterLab) {
  return c.load({ hosts: SITES.map((s) => `${s}.example`), expect: Object.fromEntries(SITES.map((s) => [`${s}.example`, `site ${s}`])), concurrency: 4, pauseMs: 20 });
}

test.serial('lab: three nodes roll from v1 to v2 under load with no failed request; a v3 whose sites fail their checks halts after the canary, which returns to v2', async (t) => {
  await requireLab();
  t.timeout(3_000_000);
  const { c, refs } = await rolloutLab(t, 3);
  // Capacity well above the client loop's rate: overload help is tested elsewhere (test/lab/cluster.test.ts).
  for (const s of SITES) await c.addSite(s, { minReplicas: 2, capacity: 1000 });
  for (const s of SITES) await c.waitUntil(`${s} answers`, async () => (await c.get(`${s}.example`)).body.includes(`site ${s}`));
  t.deepEqual((await releases(c)).map((r) => [r.image, r.file]), c.macs.map(() => [refs.v1, 'v1']), 'every node starts on v1');
  await settledSites(c, SITES);

  // Bad input is refused before any node is touched.
  await refused(t, c, ['--image', 'tiny-web@000000000000'], /no such image/);
  await refused(t, c, ['--image', refs.v2, '--nodes', 'web-nobody'], /"web-nobody" matches no node/);
  await refused(t, c, ['--image', refs.v2, '--max-unavailable', '3'], /--max-unavailable 3 would leave no healthy replica/);
  t.true((await c.ctl.cli('rollout', 'status').catch((e: { stderr?: string }) => e.stderr ?? '')).includes('no rollout has run yet'), 'nothing was started');

  // 1. v1 → v2 with a client loop through HAProxy the whole time.
  const load1 = loadAll(c);
  const started = Date.now();
  await c.ctl.cli('rollout', 'start', '--image', refs.v2, '--min-healthy-time', '10s', '--boot-deadline', '5m');
  await refused(t, c, ['--image', refs.v2], /is still running/);
  const r1 = await finished(t, c);
  const stats1 = await loadStats(load1);
  t.log(`v1 → v2: ${((Date.now() - started) / 1000).toFixed(0)} s, ${stats1.ok} requests, ${stats1.failed} failed`);
  t.is(r1.status, 'done', r1.reason ?? '');
  t.deepEqual(r1.nodes.map((n) => n.phase), ['done', 'done', 'done']);
  t.deepEqual((await releases(c)).map((r) => [r.image, r.file]), c.macs.map(() => [refs.v2, 'v2']), 'every node runs v2: its boot info and its release file say so');
  t.true(stats1.ok > 200, `the client loop ran (${stats1.ok})`);
  t.is(stats1.failed, 0, `no failed request during the rollout: ${stats1.failures.slice(0, 5).join('; ')}`);
  for (const s of SITES) t.is((await c.sites()).find((x) => x.name === s)?.nodes.length, 2, `${s}: back to its 2 replicas after the reshuffle`);

  // 2. v3 fails its health checks: halted after the canary, which is rolled back onto v2.
  const load2 = loadAll(c);
  await c.ctl.cli('rollout', 'start', '--image', refs.v3, '--min-healthy-time', '10s', '--boot-deadline', '5m');
  const r2 = await finished(t, c);
  const stats2 = await loadStats(load2);
  t.log(`v3: ${r2.status} (${r2.reason}), ${stats2.ok} requests, ${stats2.failed} failed`);
  t.is(r2.status, 'halted');
  t.regex(r2.reason ?? '', /fails its health check/);
  t.deepEqual(r2.nodes.map((n) => n.phase), ['rolled-back', 'pending', 'pending'], 'only the canary was touched');
  t.deepEqual((await releases(c)).map((r) => [r.image, r.file]), c.macs.map(() => [refs.v2, 'v2']), 'the canary is back on v2, the others never left it');
  t.is(stats2.failed, 0, `no failed request while v3 was tried and rolled back: ${stats2.failures.slice(0, 5).join('; ')}`);
});

test.serial('lab: the controller is killed (SIGKILL) in the middle of a rollout and started again; the rollout resumes and completes, each node rebooted once', async (t) => {
  await requireLab();
  t.timeout(2_400_000);
  const { c, refs } = await rolloutLab(t, 2);
  const sites = ['alpha', 'bravo', 'charlie'];
  for (const s of sites) await c.addSite(s, { minReplicas: 1, capacity: 1000 });
  for (const s of sites) await c.waitUntil(`${s} answers`, async () => (await c.get(`${s}.example`)).body.includes(`site ${s}`));
  await settledSites(c, sites);
  const load = c.load({ hosts: sites.map((s) => `${s}.example`), expect: Object.fromEntries(sites.map((s) => [`${s}.example`, `site ${s}`])), concurrency: 2, pauseMs: 50 });
  const startedAt = new Date().toISOString();
  await c.ctl.cli('rollout', 'start', '--image', refs.v2, '--min-healthy-time', '5s');
  const first = await status(c);
  await c.waitUntil('the first node is rebooting', async () => ['rebooting', 'booting'].includes((await status(c)).nodes[0]?.phase ?? ''), 300_000);
  const before = await status(c);
  t.log(`killing the controller with ${before.nodes.map((n) => `${n.hostname}:${n.phase}`).join(' ')}`);
  await c.restart();
  const resumed = await status(c);
  t.is(resumed.id, first.id, 'the same rollout, read back from the state store');
  t.deepEqual(resumed.nodes.map((n) => n.from), before.nodes.map((n) => n.from));
  const r = await finished(t, c);
  const stats = await loadStats(load);
  t.log(`${stats.ok} requests, ${stats.failed} failed across the kill and restart`);
  t.is(r.status, 'done', r.reason ?? '');
  t.deepEqual((await releases(c)).map((x) => [x.image, x.file]), c.macs.map(() => [refs.v2, 'v2']));
  for (const n of await c.nodeList()) {
    // One agent start per boot (its `reboot` event may be posted just as the controller is killed).
    const boots = n.events.filter((e) => e.stage === 'agent' && e.at >= startedAt).length;
    t.is(boots, 1, `${n.mac} rebooted exactly once`);
  }
  t.is(stats.failed, 0, `no failed request: ${stats.failures.slice(0, 5).join('; ')}`);
});
