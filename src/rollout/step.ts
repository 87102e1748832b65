import { isDeepStrictEqual } from 'node:util';
import { surgeOf } from './desired.js';
import { inFlight, type NodePhase, type RebootStage, type Rollout, type RolloutNode } from './types.js';
import { sitesOn, type World } from './world.js';

/** The outcome of one step: the rollout as it is now, and reboots to ask of a power driver. */
export interface StepResult {
  rollout: Rollout;
  /** Nodes to reboot through their ssh/command driver, once `rollout` is persisted (at most once). */
  power: string[];
}

/** Events that show a node went down for its reboot (or is already booting again). */
const GOING_DOWN = new Set(['reboot', 'dhcp', 'tftp', 'ipxe-script', 'kernel', 'initrd', 'initramfs', 'rootfs-fetched', 'verified', 'switched', 'init-done', 'agent']);

/** A verifying node whose sites are served but whose check keeps failing this long has failed (at least). */
const MIN_FAILING_MS = 10_000;

/**
 * One step of a rollout (pure; docs/rollout.md). Each node moves at most one phase; nodes are
 * started while the canary and max-unavailable allow. Deadlines count from persisted times, so a
 * step replayed after a controller restart decides the same. What the cluster must look like in
 * each phase (holds, image assignments, reboot tokens, surge) is not done here but derived from
 * the phases by desiredCluster (src/rollout/desired.ts), which the runner applies every step.
 */
export function step(current: Rollout, w: World): StepResult {
  const r = structuredClone(current);
  const power: string[] = [];
  if (r.finishedAt !== undefined) return { rollout: r, power };
  for (const [i, n] of r.nodes.entries()) {
    if (!inFlight(n)) continue;
    const out = advance(n, r, w);
    r.nodes[i] = out.node;
    if (out.power) power.push(n.mac);
    if (out.halt !== undefined && (r.status === 'running' || r.status === 'paused')) {
      r.status = 'halted';
      r.reason = `${n.hostname}: ${out.halt}`;
    }
  }
  if (r.status === 'halted' || r.status === 'aborted') releaseUntouched(r, w.now);
  if (r.status === 'running') startNodes(r, w);
  finish(r, w);
  return { rollout: r, power };
}

interface Advance {
  node: RolloutNode;
  /** Run the node's power driver now. */
  power?: boolean;
  /** The rollout halts for this reason. */
  halt?: string;
}

function advance(n: RolloutNode, r: Rollout, w: World): Advance {
  switch (n.phase) {
    case 'surging':
      return surging(n, r, w);
    case 'draining':
      return draining(n, r, w);
    case 'rebooting':
    case 'booting':
    case 'verifying':
      return forward(n, r, w);
    case 'observing':
      return observing(n, r, w);
    case 'rolling-back':
      return rollingBack(n, r, w);
    default:
      return { node: n };
  }
}

// --- before the reboot ---------------------------------------------------------------------------

/** Helpers first: every site on the node must have enough healthy replicas elsewhere. */
function surging(n: RolloutNode, r: Rollout, w: World): Advance {
  const needs = surgeNeeds(n, r, w);
  // Sized when the node started; another node's surge going away since (or a node lost) can
  // leave a site short. Once the reconciler has placed everything asked for, ask for the rest.
  if (surgeApplied(r, w)) {
    const more = needs.filter((s) => s.placed < s.target && (w.state.placement[s.site] ?? []).length >= (w.state.sites[s.site]?.replicas ?? 0) + (w.state.surge[s.site] ?? 0));
    if (more.length > 0) {
      const surge = { ...n.surge };
      for (const s of more) surge[s.site] = (surge[s.site] ?? 0) + s.target - s.placed;
      return { node: { ...n, surge, detail: `placing helpers: ${more.map((s) => `${s.site} +${s.target - s.placed}`).join(', ')}` } };
    }
  }
  const short = needs.filter((s) => s.healthy < s.target);
  if (short.length === 0) return { node: moveTo(n, 'draining', 'draining in the balancer', w.now) };
  if (w.now - Date.parse(n.since) > r.options.bootDeadlineSeconds * 1000) {
    const what = short.map((s) => `${s.site} (${s.healthy} of ${s.target} healthy elsewhere)`).join(', ');
    return { node: { ...moveTo(n, 'pending', `not started: no helper became healthy for ${what}`, w.now), surge: {} }, halt: `no helper became healthy within ${r.options.bootDeadlineSeconds} s for ${what}` };
  }
  return { node: { ...n, detail: `waiting for helpers: ${short.map((s) => `${s.site} ${s.healthy}/${s.target}`).join(', ')}` } };
}

/** Per site on the node: how many healthy replicas it needs elsewhere and how many it has. */
export function surgeNeeds(n: RolloutNode, r: Rollout, w: World): Array<{ site: string; target: number; placed: number; healthy: number }> {
  const out = new Set(r.nodes.filter((x) => x.mac !== n.mac && inFlight(x) && x.phase !== 'surging' && x.phase !== 'observing').map((x) => x.mac));
  const up = (mac: string): boolean => mac !== n.mac && !out.has(mac) && (w.node(mac)?.ready ?? false);
  const candidates = w.macs.filter(up);
  return sitesOn(w.state, n.mac).map(({ name, served }) => {
    const site = w.state.sites[name];
    const others = (w.state.placement[name] ?? []).filter(up);
    const healthy = others.filter((m) => (w.node(m)?.heartbeat?.sites.includes(served) ?? false) && (w.balancer ? w.healthy(name, m) === true : true));
    return { site: name, target: Math.min(site?.minReplicas ?? 1, candidates.length), placed: others.length, healthy: healthy.length };
  });
}

/** No new requests; its open sessions finish (until the drain deadline), then the reboot. */
function draining(n: RolloutNode, r: Rollout, w: World): Advance {
  const servers = w.node(n.mac)?.servers ?? [];
  const applied = servers.every((s) => /^(DRAIN|MAINT|DOWN|NOLB)/.test(s.status));
  const sessions = servers.reduce((sum, s) => sum + s.sessions, 0);
  const late = w.now - Date.parse(n.since) >= r.options.drainSeconds * 1000;
  if (applied && sessions === 0) return reboot(n, 'rebooting', w, `rebooting onto ${n.to}`);
  if (late) return reboot({ ...n, sessionsCut: sessions }, 'rebooting', w, `rebooting onto ${n.to} (drain deadline passed with ${sessions} session${sessions === 1 ? '' : 's'} open)`);
  return { node: { ...n, detail: applied ? `draining: ${sessions} session${sessions === 1 ? '' : 's'} open` : 'waiting for the balancer to drain it' } };
}

/** Asks for a reboot: a fresh token (the agent reboots on it), the time, the power driver. */
function reboot(n: RolloutNode, phase: NodePhase, w: World, detail: string, stage?: RebootStage): Advance {
  const node: RolloutNode = { ...omit(n, 'powerError', 'failingSince'), phase, since: iso(w.now), detail, token: w.token(), rebootAt: iso(w.now), ...(stage ? { stage } : {}) };
  return { node, power: n.power !== 'agent' };
}

// --- the reboot, forward and back ------------------------------------------------------------------

type Progress = { next: RebootStage | 'verified'; detail: string } | { failed: string } | { wait: string };

/**
 * Where a node is in its reboot onto `target`: gone down (an event after the reboot was asked
 * for), back (its agent started after that, reporting `target`), verified (every site placed on
 * it served and freshly checked by the balancer). Fails at the boot deadline, on the wrong
 * image, or when its sites are served but their checks keep failing.
 */
function progress(n: RolloutNode, stage: RebootStage, target: string, r: Rollout, w: World): Progress {
  const now = w.node(n.mac);
  const since = Date.parse(n.rebootAt ?? n.since);
  if (n.powerError !== undefined) return { failed: `its ${n.power} power driver failed: ${n.powerError}` };
  const late = w.now - since > r.options.bootDeadlineSeconds * 1000;
  const events = (now?.events ?? []).filter((e) => e.at >= since);
  const hb = now?.heartbeat && now.heartbeat.at >= since ? now.heartbeat : undefined;
  const tokenSeen = n.power !== 'agent' || (hb !== undefined && hb.bootToken === n.token);
  if (stage === 'rebooting') {
    if (events.some((e) => GOING_DOWN.has(e.stage)) || (n.power === 'agent' && hb?.bootToken === n.token)) return { next: 'booting', detail: `booting ${target}` };
    return late ? { failed: `did not reboot within ${r.options.bootDeadlineSeconds} s` } : { wait: `reboot asked (${n.power})` };
  }
  if (stage === 'booting') {
    // The agent driver's token proves this boot is the one asked for (the agent reports the token
    // of its first manifest); other drivers have the agent's start event after the request.
    const agentAt = Math.max(...events.filter((e) => e.stage === 'agent').map((e) => e.at), -Infinity);
    const booted = n.power === 'agent' ? tokenSeen : Number.isFinite(agentAt) && hb !== undefined && hb.at >= agentAt;
    if (hb && booted) {
      if (hb.image !== target) return { failed: `came back on ${hb.image || 'an unknown image'} instead of ${target}` };
      return { next: 'verifying', detail: `runs ${target}; waiting for its sites to pass fresh checks` };
    }
    return late ? { failed: `did not come back on ${target} within ${r.options.bootDeadlineSeconds} s` } : { wait: `booting ${target}` };
  }
  return verifying(n, hb?.sites ?? [], late, r, w);
}

/** Every placed site served (heartbeat after the reboot) and freshly checked (DRAIN, L7OK, full health). */
function verifying(n: RolloutNode, served: readonly string[], late: boolean, r: Rollout, w: World): Progress {
  const sites = sitesOn(w.state, n.mac);
  const servers = w.node(n.mac)?.servers ?? [];
  const missing = sites.filter((s) => !served.includes(s.served)).map((s) => s.name);
  const unchecked = w.balancer ? sites.filter((s) => !servers.some((x) => x.site === s.name && x.fresh)).map((s) => s.name) : [];
  if (missing.length === 0 && unchecked.length === 0) return { next: 'verified', detail: `every site passes its check (${sites.length})` };
  const failing = missing.length === 0 ? servers.filter((x) => x.status.startsWith('DOWN')) : [];
  if (late) {
    const why = missing.length > 0 ? `does not serve ${missing.join(', ')}` : `${unchecked.join(', ')} did not pass fresh checks${failing[0] ? ` (${failing[0].check})` : ''}`;
    return { failed: `${why} within ${r.options.bootDeadlineSeconds} s of its reboot` };
  }
  if (failing.length > 0) {
    const since = n.failingSince ? Date.parse(n.failingSince) : w.now;
    const limit = Math.max(MIN_FAILING_MS, r.options.minHealthySeconds * 1000);
    if (w.now - since >= limit) return { failed: `${failing.map((f) => `${f.site} fails its health check (${f.check})`).join(', ')} for ${Math.round(limit / 1000)} s` };
    return { wait: `failing checks since ${iso(since)}: ${failing.map((f) => f.site).join(', ')}` };
  }
  return { wait: missing.length > 0 ? `waiting for it to serve ${missing.join(', ')}` : `waiting for fresh checks of ${unchecked.join(', ')}` };
}

function forward(n: RolloutNode, r: Rollout, w: World): Advance {
  const p = progress(n, n.phase as RebootStage, n.to, r, w);
  if ('failed' in p) return rollBack(n, p.failed, w);
  if ('wait' in p) return { node: withFailing(n, p.wait, w) };
  if (p.next === 'verified') {
    const errors = (w.node(n.mac)?.servers ?? []).reduce((sum, s) => sum + s.errors, 0);
    return { node: { ...omit(n, 'failingSince'), phase: 'observing', since: iso(w.now), detail: `readmitted; watching for errors for ${r.options.minHealthySeconds} s`, errorsBase: errors } };
  }
  return { node: { ...n, phase: p.next, since: iso(w.now), detail: p.detail } };
}

/** Keeps (or starts, or clears) the time a verifying node's checks began to fail. */
function withFailing(n: RolloutNode, detail: string, w: World): RolloutNode {
  if (detail.startsWith('failing checks')) return { ...n, detail, failingSince: n.failingSince ?? iso(w.now) };
  return { ...omit(n, 'failingSince'), detail };
}

/** Readmitted: any new error on its servers, or a failing check, within min-healthy-time is a regression. */
function observing(n: RolloutNode, r: Rollout, w: World): Advance {
  const servers = w.node(n.mac)?.servers ?? [];
  const errors = servers.reduce((sum, s) => sum + s.errors, 0);
  const base = n.errorsBase ?? 0;
  // Counters start again at 0 in a reloaded HAProxy: then the baseline does too.
  if (errors < base) return { node: { ...n, errorsBase: errors } };
  if (errors > base) return rollBack(n, `regression: ${errors - base} error${errors - base === 1 ? '' : 's'} (5xx, connection or response) on its servers within ${r.options.minHealthySeconds} s of readmission`, w);
  const down = servers.filter((s) => s.status.startsWith('DOWN'));
  if (down.length > 0) return rollBack(n, `regression: ${down.map((d) => `${d.site} fails its health check (${d.check})`).join(', ')}`, w);
  if (w.now - Date.parse(n.since) >= r.options.minHealthySeconds * 1000) {
    return { node: moveTo(n, 'done', `on ${n.to}${n.sessionsCut ? `; ${n.sessionsCut} session(s) cut at the drain deadline` : ''}`, w.now) };
  }
  return { node: n };
}

/** A failure after the node's image was changed: back onto `from`, and the rollout halts. */
function rollBack(n: RolloutNode, why: string, w: World): Advance {
  if (n.powerError !== undefined) {
    // The power driver never rebooted it: it still runs `from` and only needs readmitting.
    return { node: { ...omit(n, 'powerError'), failure: why, phase: 'rolled-back', since: iso(w.now), detail: `not rebooted: ${why}` }, halt: why };
  }
  const out = reboot({ ...n, failure: why }, 'rolling-back', w, `${why}; rolling back to ${n.from}`, 'rebooting');
  return { ...out, halt: why };
}

function rollingBack(n: RolloutNode, r: Rollout, w: World): Advance {
  const stage = n.stage ?? 'rebooting';
  const p = progress(n, stage, n.from, r, w);
  const reason = n.failure ?? 'failed';
  if ('failed' in p) {
    return { node: { ...omit(n, 'stage', 'failingSince'), phase: 'failed', since: iso(w.now), detail: `${reason}; then ${p.failed} (rolling back to ${n.from}): left to the reconciler, its sites move to other nodes` } };
  }
  if ('wait' in p) {
    const tracked = withFailing(n, p.wait, w);
    return { node: { ...tracked, detail: `${reason}; rolling back to ${n.from}: ${p.wait}` } };
  }
  if (p.next === 'verified') {
    return { node: { ...omit(n, 'stage', 'failingSince'), phase: 'rolled-back', since: iso(w.now), detail: `back on ${n.from}: ${reason}` } };
  }
  return { node: { ...n, stage: p.next, detail: `${reason}; rolling back to ${n.from}: ${p.detail}` } };
}

// --- the rollout as a whole ------------------------------------------------------------------------

/** Halted or aborted: nodes not yet rebooted go back to pending, untouched. */
function releaseUntouched(r: Rollout, now: number): void {
  r.nodes = r.nodes.map((n) => (n.phase === 'surging' || n.phase === 'draining' ? { ...moveTo(n, 'pending', `not rolled: the rollout ${r.status === 'aborted' ? 'was aborted' : 'halted'}`, now), surge: {} } : n));
}

/** The cluster state carries exactly the surge the rollout asks for and the reconciler has settled on it. */
function surgeApplied(r: Rollout, w: World): boolean {
  return w.settled && isDeepStrictEqual(w.state.surge, surgeOf(r));
}

/**
 * Starts pending nodes: the canaries alone first, then up to max-unavailable at a time; only once
 * the cluster has settled on the surge asked so far (a finished node's helpers gone), so a new
 * node's helpers are sized on the placement as it will be.
 */
function startNodes(r: Rollout, w: World): void {
  if (!surgeApplied(r, w)) return;
  const rolled = r.nodes.filter((n) => n.phase === 'done' && n.from !== n.to).length;
  const limit = rolled < r.options.canary ? Math.min(r.options.maxUnavailable, r.options.canary - rolled) : r.options.maxUnavailable;
  for (let i = 0; i < r.nodes.length; i++) {
    const n = r.nodes[i];
    if (!n || n.phase !== 'pending') continue;
    if (r.nodes.filter(inFlight).length >= limit) return;
    const surging = moveTo(n, 'surging', 'placing helpers for its sites', w.now);
    const surge: Record<string, number> = {};
    for (const need of surgeNeeds(surging, r, w)) if (need.target > need.placed) surge[need.site] = need.target - need.placed;
    r.nodes[i] = { ...surging, surge, detail: Object.keys(surge).length > 0 ? `placing helpers: ${Object.entries(surge).map(([s, k]) => `${s} +${k}`).join(', ')}` : 'its sites have enough replicas elsewhere' };
  }
}

/** Done when every node is, once the reshuffle settled; halted/aborted ones end when nothing is in flight. */
function finish(r: Rollout, w: World): void {
  if (r.nodes.some(inFlight)) return;
  if (r.status === 'halted' || r.status === 'aborted') {
    r.finishedAt = iso(w.now);
    return;
  }
  // The reshuffle: the surge is gone from the cluster state and the reconciler has settled.
  if (r.status === 'running' && r.nodes.every((n) => n.phase === 'done') && Object.keys(w.state.surge).length === 0 && w.settled) {
    r.status = 'done';
    r.finishedAt = iso(w.now);
  }
}

function moveTo(n: RolloutNode, phase: NodePhase, detail: string, now: number): RolloutNode {
  return { ...n, phase, detail, since: iso(now) };
}

function omit<K extends keyof RolloutNode>(n: RolloutNode, ...keys: K[]): RolloutNode {
  const out = { ...n };
  for (const k of keys) delete out[k];
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
