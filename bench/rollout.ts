/**
 * A rolling update under constant load: `sudo npm run bench -- rollout`. A fresh lab (namespace,
 * managed HAProxy, three tiny-web QEMU nodes that really reboot, TCG), five sites with two
 * replicas, a client loop through HAProxy for the whole rollout, then `bootfleet rollout start`
 * from v1 to v2 (test/helpers/rollout-images.ts). Prints the total time, each node's
 * netboot-to-ready time (its first DHCP request after the rollout began to its readmission after fresh checks) and the
 * client's requests; last line `rollout_failed_requests: N` (bar: 0). Times depend on TCG and
 * the machine's load; failed requests must not.
 */
import { join } from 'node:path';
import { Lab } from '../src/lab/lab.js';
import { clusterLabOn, loadStats } from '../test/helpers/cluster-lab.js';
import { buildReleases } from '../test/helpers/rollout-images.js';
import type { RolloutView } from '../src/http/rollout.js';

const SITES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

export async function main(): Promise<void> {
  const lab = await Lab.create();
  try {
    const store = join(lab.logDir, 'store');
    const refs = await buildReleases(join(lab.logDir, 'recipes'), store);
    const config = { cluster: { heartbeatSeconds: 2, downAfterSeconds: 15, overload: { high: 0.8, low: 0.4, cooldownSeconds: 300 } } };
    const c = await clusterLabOn(lab, { nodes: 3, store, image: refs.v1, reboot: true, config });
    for (const s of SITES) await c.addSite(s, { minReplicas: 2, capacity: 1000 });
    for (const s of SITES) await c.waitUntil(`${s} answers`, async () => (await c.get(`${s}.example`)).body.includes(`site ${s}`));
    await c.waitUntil('the first placement settled', async () => (await c.sites()).every((s) => s.retiring.length === 0 && s.nodes.length === s.replicas && s.nodes.every((m) => s.stats?.servers.some((x) => x.node === m && x.status === 'UP'))));
    const load = c.load({ hosts: SITES.map((s) => `${s}.example`), expect: Object.fromEntries(SITES.map((s) => [`${s}.example`, `site ${s}`])), concurrency: 4, pauseMs: 20 });
    await new Promise((r) => setTimeout(r, 3000));
    const started = Date.now();
    await c.ctl.cli('rollout', 'start', '--image', refs.v2, '--min-healthy-time', '10s');
    const readyAt = new Map<string, number>();
    let r: RolloutView | undefined;
    await c.waitUntil('the rollout ended', async () => {
      r = JSON.parse(await c.ctl.cli('rollout', 'status', '--json')) as RolloutView;
      // Readmitted (fresh checks passed) is when "observing" begins; each look runs the CLI, so a
      // node seen only as done counts from that look.
      for (const n of r.nodes) {
        if ((n.phase === 'observing' || n.phase === 'done') && !readyAt.has(n.mac)) readyAt.set(n.mac, n.phase === 'observing' ? Date.parse(n.since) : Date.now());
      }
      return r.finishedAt !== undefined;
    }, 3_600_000);
    // The reboot is short (the agent restarts at once): its first DHCP request after the rollout
    // began, from the controller's boot timeline, marks it exactly where polling could miss it.
    const rebootAt = new Map((await c.nodeList()).map((n) => [n.mac, n.events.find((e) => e.stage === 'dhcp' && Date.parse(e.at) >= started)?.at] as const)
      .filter((e): e is readonly [string, string] => e[1] !== undefined).map(([mac, at]) => [mac, Date.parse(at)]));
    const total = (Date.now() - started) / 1000;
    const stats = await loadStats(load);
    console.log(`rollout ${r?.id} of 3 nodes onto ${refs.v2}: ${r?.status}${r?.reason ? ` (${r.reason})` : ''}`);
    console.log(`total time: ${total.toFixed(1)} s`);
    for (const n of r?.nodes ?? []) {
      const from = rebootAt.get(n.mac);
      const to = readyAt.get(n.mac);
      console.log(`  ${n.hostname}: first DHCP request to readmitted ${from !== undefined && to !== undefined ? `${((to - from) / 1000).toFixed(1)} s` : 'n/a'} (${n.phase})`);
    }
    console.log(`client requests: ${stats.ok + stats.failed} (${stats.ok} ok)`);
    console.log(`rollout_failed_requests: ${stats.failed}`);
  } finally {
    await lab.destroy();
  }
}
