import type { ClusterState, NodeHold } from '../cluster/model.js';
import { inFlight, type Rollout, type RolloutNode } from './types.js';

/**
 * What the cluster state must say while a rollout is where it is (pure): per node its balancer
 * hold, its image assignment and (agent driver) its reboot token; per site the surge. Derived
 * from the phases alone and applied by the runner after every step, so applying it twice, or
 * again after a controller restart, changes nothing: that is what makes replayed steps safe
 * (a reboot token is set, never regenerated, so the node reboots once). docs/rollout.md.
 */
export function applyRollout(s: ClusterState, r: Rollout | undefined): void {
  const holds: Record<string, NodeHold> = {};
  for (const n of r?.nodes ?? []) {
    const hold = holdOf(n);
    if (hold) holds[n.mac] = hold;
    const image = imageOf(n);
    if (image) s.images[n.mac] = image;
    if (n.token && n.power === 'agent' && rebootPending(n)) s.reboots[n.mac] = n.token;
  }
  s.holds = holds;
  s.surge = surgeOf(r);
}

/** The helper replicas per site the rollout's nodes in flight ask for, added up. */
export function surgeOf(r: Rollout | undefined): Record<string, number> {
  const surge: Record<string, number> = {};
  for (const n of r?.nodes ?? []) {
    if (inFlight(n)) for (const [site, k] of Object.entries(n.surge ?? {})) if (k > 0) surge[site] = (surge[site] ?? 0) + k;
  }
  return surge;
}

/** drain: checked, no new requests (draining, verifying); maint: not checked (while it reboots). */
function holdOf(n: RolloutNode): NodeHold | undefined {
  const stage = n.phase === 'rolling-back' ? n.stage ?? 'rebooting' : n.phase;
  if (stage === 'draining' || stage === 'verifying') return 'drain';
  if (stage === 'rebooting' || stage === 'booting') return 'maint';
  return undefined;
}

/** From its reboot on, the node boots `to`; rolled back (or failed), `from` again. */
function imageOf(n: RolloutNode): string | undefined {
  if (['rebooting', 'booting', 'verifying', 'observing', 'done'].includes(n.phase)) return n.to;
  if (['rolling-back', 'rolled-back', 'failed'].includes(n.phase)) return n.from;
  return undefined;
}

/** The token is asserted only until the node has come back with it (a later manual reboot must not be undone). */
function rebootPending(n: RolloutNode): boolean {
  const stage = n.phase === 'rolling-back' ? n.stage ?? 'rebooting' : n.phase;
  return stage === 'rebooting' || stage === 'booting';
}
