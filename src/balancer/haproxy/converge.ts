import type { BalancerModel, ServerAdmin } from '../model.js';
import { backendName, serverName, serverWeight } from '../names.js';
import { ADMIN, type ServerStateRow, type StatRow } from './runtime.js';

/** What the model wants for one server in the running HAProxy. */
export interface DesiredServer {
  backend: string;
  server: string;
  admin: ServerAdmin;
  weight: number;
}

/** What the running HAProxy has for it. */
export interface ActualServer {
  maint: boolean;
  /** The runtime DRAIN flag (FDRAIN), which the state file carries across reloads. */
  drain: boolean;
  /** The user weight (uweight). */
  weight: number;
}

export type RuntimeStep =
  | { op: 'maint' | 'drain' | 'ready' | 'readmit'; backend: string; server: string }
  | { op: 'weight'; backend: string; server: string; weight: number };

export function desiredServers(model: BalancerModel): DesiredServer[] {
  return model.sites.flatMap((site) =>
    site.servers.map((s) => ({ backend: backendName(site.id), server: serverName(s.node), admin: s.admin, weight: serverWeight(s) })),
  );
}

/** Joins `show servers state` (admin bits, weight) with `show stat` (MAINT as HAProxy shows it). */
export function actualServers(state: ServerStateRow[], stat: StatRow[]): Map<string, ActualServer> {
  const maint = new Set(stat.filter((r) => r.status?.startsWith('MAINT')).map((r) => `${r.pxname}/${r.svname}`));
  const out = new Map<string, ActualServer>();
  for (const row of state) {
    const key = `${row.be_name}/${row.srv_name}`;
    const admin = Number(row.srv_admin_state);
    out.set(key, { maint: maint.has(key), drain: (admin & ADMIN.FDRAIN) !== 0, weight: Number(row.srv_uweight) });
  }
  return out;
}

/**
 * The runtime commands that make the running admin states and weights equal to the model's,
 * and nothing when they already are (so it can run after every apply). A server leaving MAINT
 * for READY gets `readmit` (DRAIN, fresh checks, READY), never a direct READY: leaving MAINT
 * makes a server UP before any check. docs/balancer.md ("Admin states").
 */
export function planRuntime(desired: DesiredServer[], actual: Map<string, ActualServer>): RuntimeStep[] {
  const steps: RuntimeStep[] = [];
  for (const d of desired) {
    const a = actual.get(`${d.backend}/${d.server}`);
    if (!a) continue;
    const at = { backend: d.backend, server: d.server };
    if (d.admin === 'maint') {
      if (!a.maint) steps.push({ op: 'maint', ...at });
      continue;
    }
    if (d.admin === 'drain') {
      if (a.maint || !a.drain) steps.push({ op: 'drain', ...at });
      continue;
    }
    if (a.weight !== d.weight) steps.push({ op: 'weight', ...at, weight: d.weight });
    if (a.maint) steps.push({ op: 'readmit', ...at });
    else if (a.drain) steps.push({ op: 'ready', ...at });
  }
  // Servers that take traffic again go first, those that stop taking it last: applied in model
  // order, a site moving from one node to another was drained on the old before the new left its
  // drain, and for that moment HAProxy had no server for it ("no server available!", a 503; seen
  // in the rollout lab across a controller restart).
  const removes = (s: RuntimeStep): boolean => s.op === 'drain' || s.op === 'maint';
  return [...steps.filter((s) => !removes(s)), ...steps.filter(removes)];
}
