import type { ExecutionContext } from 'ava';
import type { ClusterLab } from './cluster-lab.js';
import type { RolloutView } from '../../src/http/rollout.js';

// What the rollout lab tests read through the real CLI and the client namespace.

export async function status(c: ClusterLab): Promise<RolloutView> {
  return JSON.parse(await c.ctl.cli('rollout', 'status', '--json')) as RolloutView;
}

/** Waits for the rollout to end, logging each node's phase changes (progress for whoever reads the log). */
export async function finished(t: ExecutionContext, c: ClusterLab, timeoutMs = 1_200_000): Promise<RolloutView> {
  let last = '';
  let r: RolloutView | undefined;
  await c.waitUntil('the rollout ended', async () => {
    r = await status(c);
    const now = r.nodes.map((n) => `${n.hostname}:${n.phase}`).join(' ');
    if (now !== last) t.log(`${r.status} ${now}`);
    last = now;
    return r.finishedAt !== undefined;
  }, timeoutMs);
  if (!r) throw new Error('no rollout');
  return r;
}

/** What each node says it runs: the image in its heartbeat (its boot info) and the release file its httpd serves. */
export async function releases(c: ClusterLab): Promise<Array<{ mac: string; image: string; file: string }>> {
  const out = [];
  for (const n of await c.nodeList()) {
    const r = await c.client.exec('curl', ['-s', '--max-time', '5', `http://${n.ip ?? ''}/release.txt`]).catch(() => ({ stdout: '' }));
    out.push({ mac: n.mac, image: n.heartbeat?.image ?? '', file: r.stdout.trim() });
  }
  return out;
}

/** Every site placed and served as placed: no hand-over, each placed node UP in HAProxy (the first placement has settled). */
export async function settledSites(c: ClusterLab, names: string[]): Promise<void> {
  await c.waitUntil('the first placement settled', async () => {
    const sites = (await c.sites()).filter((s) => names.includes(s.name));
    return sites.length === names.length && sites.every((s) => s.retiring.length === 0 && s.nodes.length === s.replicas &&
      s.nodes.every((m) => s.stats?.servers.some((x) => x.node === m && x.status === 'UP')));
  });
}

