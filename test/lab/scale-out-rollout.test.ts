import test from 'ava';
import { join } from 'node:path';
import { clusterLabOn, loadStats } from '../helpers/cluster-lab.js';
import { requireLab, withLab } from '../helpers/lab.js';
import { buildReleases } from '../helpers/rollout-images.js';
import { finished, releases, settledSites, status } from '../helpers/rollout-lab.js';
import { startEtcdCluster } from '../../src/lab/etcd.js';
import { startLabController } from '../../src/lab/lab-controller.js';

// Issue 12 end to end: three etcd members and two real controllers (store.kind etcd), real QEMU
// tiny-web nodes that really reboot, each controller's own managed HAProxy rendered from the one
// placement, and a client loop through the second controller's balancer for the whole rollout.
// The leader is SIGKILLed in the middle of the rollout: nothing of it is cleaned up.

const LEADING = /leading: this controller runs placement and rollouts/;
const B = '198.18.0.2';
const SITES = ['alpha', 'bravo', 'charlie'];

test.serial('lab: two controllers on 3 etcd members; the leader is SIGKILLed mid-rollout, the other takes over and completes it with no failed request', async (t) => {
  await requireLab();
  t.timeout(2_400_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const refs = await buildReleases(join(lab.logDir, 'recipes'), store);
  const etcd = await startEtcdCluster(lab, { firstAddress: '198.18.0.11' });
  // Both serve one DHCP range: addresses are claimed in etcd before each OFFER and ACK.
  const dhcp = { mode: 'full', range: ['198.18.0.100', '198.18.0.199'], leaseSeconds: 3600 };
  const cluster = { heartbeatSeconds: 2, downAfterSeconds: 15, overload: { high: 0.8, low: 0.4, cooldownSeconds: 300 } };
  const etcdStore = { kind: 'etcd', endpoints: etcd.endpoints, leaseTtlSeconds: 3 };

  // ctl-a starts first and leads; the nodes boot from whichever controller answers first.
  const c = await clusterLabOn(lab, { nodes: 2, store, image: refs.v1, reboot: true, controller: { name: 'ctl-a', dhcp }, config: { cluster, store: etcdStore, controller: { name: 'ctl-a' } } });
  const a = c.ctl;
  await a.process.waitFor(LEADING, 60_000);
  const b = await startLabController(lab, {
    name: 'ctl-b', netns: await lab.addHost('ctl-b', `${B}/24`), interface: 'eth0', address: B, dhcp,
    config: { images: { store, default: refs.v1 }, cluster, balancer: { listen: [`${B}:80`] }, store: etcdStore, controller: { name: 'ctl-b' } },
  });
  t.notRegex(b.process.output(), LEADING, 'ctl-b follows while ctl-a leads');
  // Everything from here goes through ctl-b: its CLI (the admin token is shared) and its balancer.
  c.use(b, B);
  await c.waitUntil('ctl-b knows both nodes ready (node records shared through etcd)', async () => (await c.nodeList()).filter((n) => n.state === 'ready').length === 2);

  // Content uploaded through ctl-b; nodes talking to ctl-a get it through ctl-a from ctl-b.
  for (const s of SITES) await c.addSite(s, { minReplicas: 1, capacity: 1000 });
  for (const s of SITES) await c.waitUntil(`${s} answers through ctl-b's balancer`, async () => (await c.get(`${s}.example`)).body.includes(`site ${s}`));
  await settledSites(c, SITES);

  const load = c.load({ hosts: SITES.map((s) => `${s}.example`), expect: Object.fromEntries(SITES.map((s) => [`${s}.example`, `site ${s}`])), concurrency: 2, pauseMs: 50 });
  const startedAt = new Date().toISOString();
  // Started through the follower: the rollout is in etcd, and the leader steps it.
  await c.ctl.cli('rollout', 'start', '--image', refs.v2, '--min-healthy-time', '20s');
  const first = await status(c);
  // Killed while the first node, rebooted onto v2, is under observation: the new leader must
  // finish observing it, then surge, drain, reboot and readmit the second one on its own. (A node
  // whose iPXE loses its controller mid-download starts over from DHCP, pxe/boot.ipxe.hbs; one
  // whose initramfs does keeps retrying that controller: docs/scale-out.md.)
  await c.waitUntil('the first node is back and under observation', async () => (await status(c)).nodes[0]?.phase === 'observing', 600_000);
  const before = await status(c);
  t.log(`killing the leader ctl-a with ${before.nodes.map((n) => `${n.hostname}:${n.phase}`).join(' ')}`);
  const killedAt = Date.now();
  process.kill(a.process.pid, 'SIGKILL');
  await a.process.exited;
  await b.process.waitFor(LEADING, 60_000);
  t.log(`ctl-b leads ${((Date.now() - killedAt) / 1000).toFixed(1)} s after ctl-a was killed (lease TTL 3 s)`);

  const r = await finished(t, c);
  const stats = await loadStats(load);
  t.log(`${stats.ok} requests, ${stats.failed} failed across the leader's death`);
  t.is(r.id, first.id, 'the same rollout, carried on by the new leader');
  t.is(r.status, 'done', r.reason ?? '');
  t.deepEqual((await releases(c)).map((x) => [x.image, x.file]), c.macs.map(() => [refs.v2, 'v2']), 'every node runs v2');
  for (const n of await c.nodeList()) {
    const boots = n.events.filter((e) => e.stage === 'agent' && e.at >= startedAt).length;
    t.is(boots, 1, `${n.mac} rebooted exactly once`);
  }
  t.true(stats.ok > 100, `the client loop ran (${stats.ok})`);
  t.is(stats.failed, 0, `no failed request: ${stats.failures.slice(0, 5).join('; ')}`);
});
