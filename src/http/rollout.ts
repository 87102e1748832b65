import type { RequestHandler } from 'express';
import type { AppDeps } from './app.js';
import { BootfleetError } from '../errors.js';
import type { RolloutRequest } from '../rollout/plan.js';
import type { NodePhase, Rollout, RolloutOptions, RolloutStatus } from '../rollout/types.js';
import { answering } from './sites.js';

/** What the HTTP routes need of the rollout runner (src/controller/rollout-runner.ts). */
export interface RolloutControl {
  current: () => Rollout | undefined;
  begin: (req: RolloutRequest) => Promise<Rollout>;
  pause: () => Promise<Rollout>;
  resume: () => Promise<Rollout>;
  abort: () => Promise<Rollout>;
}

/**
 * A rollout as the admin API, the CLI and the web UI show it (docs/http-api.md): a contract, the
 * UI draws a progress bar per node from `phase`. Reboot tokens stay inside the controller.
 */
export interface RolloutView {
  id: string;
  image: string;
  status: RolloutStatus;
  reason?: string;
  options: RolloutOptions;
  nodes: Array<{ mac: string; hostname: string; phase: NodePhase; since: string; detail: string; from: string; to: string }>;
  startedAt: string;
  finishedAt?: string;
}

export function rolloutView(r: Rollout): RolloutView {
  return {
    id: r.id, image: r.image, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}), options: r.options,
    nodes: r.nodes.map((n) => ({ mac: n.mac, hostname: n.hostname, phase: n.phase, since: n.since, detail: n.detail, from: n.from, to: n.to })),
    startedAt: r.startedAt, ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
  };
}

function control(deps: AppDeps): RolloutControl {
  if (!deps.rollouts) throw new BootfleetError('ERR_CONFLICT', 'this controller runs no rollouts');
  return deps.rollouts;
}

/** POST /api/rollouts {image, nodes?, maxUnavailable?, canary?, minHealthySeconds?, bootDeadlineSeconds?, drainSeconds?}. Admin. */
export function startRollout(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const num = (k: string): Record<string, unknown> => (b[k] === undefined ? {} : { [k]: b[k] });
    const request = {
      image: typeof b['image'] === 'string' ? b['image'] : '',
      ...nodeSelector(b['nodes']),
      ...num('maxUnavailable'), ...num('canary'), ...num('minHealthySeconds'), ...num('bootDeadlineSeconds'), ...num('drainSeconds'),
    } as RolloutRequest;
    res.status(201).json(rolloutView(await control(deps).begin(request)));
  });
}

/** `nodes`: a selector string (`web1,web2`, `role=edge`) or a list of its items; anything else is refused, never ignored. */
function nodeSelector(v: unknown): { nodes?: string } {
  if (v === undefined || v === null) return {};
  if (typeof v === 'string') return { nodes: v };
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.length > 0 ? { nodes: v.join(',') } : {};
  throw new BootfleetError('ERR_USAGE', 'nodes: give MACs, hostnames or label=value as one comma-separated string or a list of strings');
}

/** GET /api/rollout: the current or last rollout; 404 before the first. Admin. */
export function getRollout(deps: AppDeps): RequestHandler {
  return answering(async (_req, res) => {
    const r = deps.rollouts?.current();
    if (!r) throw new BootfleetError('ERR_NOT_FOUND', 'no rollout has run yet: start one with bootfleet rollout start --image <name>@<version>');
    res.json(rolloutView(r));
  });
}

/** POST /api/rollout/pause|resume|abort. Admin. */
export function rolloutVerb(deps: AppDeps, verb: 'pause' | 'resume' | 'abort'): RequestHandler {
  return answering(async (_req, res) => {
    res.json(rolloutView(await control(deps)[verb]()));
  });
}
