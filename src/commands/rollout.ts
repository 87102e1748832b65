import { setTimeout as sleep } from 'node:timers/promises';
import type { RolloutView } from '../http/rollout.js';
import type { NodePhase } from '../rollout/types.js';
import type { RolloutRequest } from '../rollout/plan.js';
import { adminClient } from './client.js';

type Out = (s: string) => void;
const stdout: Out = (s) => process.stdout.write(s);

/** The request the API takes (src/rollout/plan.ts), plus where the controller is and whether to follow. */
export interface RolloutStartOptions extends RolloutRequest {
  config: string;
  follow?: boolean;
}

/** `bootfleet rollout start --image <name>@<version> …`: refused with the reason, or started (and followed with --follow). */
export async function rolloutStartCommand(o: RolloutStartOptions, out: Out = stdout): Promise<RolloutView> {
  const client = await adminClient(o.config);
  const request: RolloutRequest = {
    image: o.image, nodes: o.nodes, maxUnavailable: o.maxUnavailable, canary: o.canary,
    minHealthySeconds: o.minHealthySeconds, bootDeadlineSeconds: o.bootDeadlineSeconds, drainSeconds: o.drainSeconds,
  };
  const r = await client.request<RolloutView>('POST', '/api/rollouts', request);
  out(`rollout ${r.id} started: ${r.nodes.length} node(s) onto ${r.image}\n`);
  if (o.follow) return rolloutStatusCommand({ config: o.config, json: false, follow: true }, out);
  out('follow it with: bootfleet rollout status --follow\n');
  return r;
}

/** `bootfleet rollout status [--json] [--follow]`: the table (or JSON); --follow redraws until the rollout ends. */
export async function rolloutStatusCommand(o: { config: string; json: boolean; follow: boolean; intervalMs?: number }, out: Out = stdout): Promise<RolloutView> {
  const client = await adminClient(o.config);
  const tty = process.stdout.isTTY === true && out === stdout;
  let last = '';
  for (;;) {
    const r = await client.request<RolloutView>('GET', '/api/rollout');
    const text = o.json ? JSON.stringify(r, null, 2) + '\n' : formatRollout(r, Date.now());
    if (!o.follow) {
      out(text);
      return r;
    }
    if (text !== last) {
      // On a terminal the table is redrawn in place; into a pipe each change is printed once.
      out(tty ? `\x1b[H\x1b[2J${text}` : text);
      last = text;
    }
    if (r.finishedAt !== undefined) return r;
    await sleep(o.intervalMs ?? 1000);
  }
}

/** `bootfleet rollout pause|resume|abort`. */
export async function rolloutVerbCommand(o: { config: string; verb: 'pause' | 'resume' | 'abort' }, out: Out = stdout): Promise<RolloutView> {
  const client = await adminClient(o.config);
  const r = await client.request<RolloutView>('POST', `/api/rollout/${o.verb}`);
  out(`rollout ${r.id}: ${r.status}${r.reason ? ` (${r.reason})` : ''}\n`);
  return r;
}

/** The way forward, in order: a node's bar fills as it moves along it. */
const FORWARD: readonly NodePhase[] = ['pending', 'surging', 'draining', 'rebooting', 'booting', 'verifying', 'observing', 'done'];
const BAR = 16;

/** A progress bar for one node's phase: `[#########.......]`; a rollback shows `<` from the right. */
export function phaseBar(phase: NodePhase): string {
  if (phase === 'rolling-back' || phase === 'rolled-back' || phase === 'failed') {
    const fill = phase === 'rolling-back' ? BAR / 2 : BAR;
    return `[${'.'.repeat(BAR - fill)}${(phase === 'failed' ? 'x' : '<').repeat(fill)}]`;
  }
  const fill = Math.round((FORWARD.indexOf(phase) / (FORWARD.length - 1)) * BAR);
  return `[${'#'.repeat(fill)}${'.'.repeat(BAR - fill)}]`;
}

/** The status table: the rollout's line, then one row per node with its bar, phase, time in it and detail. */
export function formatRollout(r: RolloutView, now: number): string {
  const done = r.nodes.filter((n) => n.phase === 'done').length;
  const head = `rollout ${r.id} onto ${r.image}: ${r.status}${r.reason ? ` (${r.reason})` : ''}, ${done}/${r.nodes.length} done, started ${r.startedAt.replace('T', ' ').slice(0, 19)}${r.finishedAt ? `, finished ${r.finishedAt.replace('T', ' ').slice(0, 19)}` : ''}\n`;
  const rows = r.nodes.map((n) => [n.hostname, n.mac, phaseBar(n.phase), n.phase, seconds(now - Date.parse(n.since)), n.detail]);
  const header = ['NODE', 'MAC', 'PROGRESS', 'PHASE', 'FOR', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd() + '\n';
  return head + line(header) + rows.map(line).join('');
}

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
