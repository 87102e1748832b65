import { BootfleetError } from '../errors.js';
import type { DebArch } from '../images/apt-config.js';
import type { ClusterState } from '../cluster/model.js';
import { selectNodes } from './selector.js';
import { rolloutActive, type PowerDriver, type Rollout, type RolloutNode, type RolloutOptions } from './types.js';

/** `POST /api/rollouts` / `bootfleet rollout start`. */
export interface RolloutRequest {
  image: string;
  /** Selector: `all`, MACs, hostnames, `label=value`, comma-separated (src/rollout/selector.ts). */
  nodes?: string;
  maxUnavailable?: number;
  canary?: number;
  minHealthySeconds?: number;
  bootDeadlineSeconds?: number;
  drainSeconds?: number;
}

export const DEFAULT_ROLLOUT_OPTIONS: RolloutOptions = { maxUnavailable: 1, canary: 1, minHealthySeconds: 10, bootDeadlineSeconds: 300, drainSeconds: 30 };

/** A node as the planner sees it. */
export interface PlanNode {
  mac: string;
  hostname: string;
  arch: DebArch;
  labels: Readonly<Record<string, string>>;
  /** Heartbeats fresh and approved: it can be drained, rebooted and verified. */
  ready: boolean;
  /** The build it runs now (`name@version`, from its heartbeat, else what it was last handed). */
  running: string;
  power: PowerDriver;
}

export interface PlanContext {
  nodes: readonly PlanNode[];
  state: ClusterState;
  /** The last rollout, if any. */
  current?: Rollout;
  /** The build `ref` names for `arch` (the image catalogue's find), if any. */
  findImage: (ref: string, arch: DebArch) => { name: string; version: string; arch: string } | undefined;
  /** Whether any build of `ref` exists, whatever its CPU. */
  imageExists: (ref: string) => boolean;
  now: Date;
  id: string;
}

/**
 * Checks a rollout request and turns it into a rollout, before any node is touched (pure). Every
 * problem is named in one error: an image that does not exist or has no build for a selected
 * node's CPU, a rollout still running, a selector that matches nothing or a node that is not
 * ready, options out of range, and a max-unavailable that could take every node able to serve a
 * site out at once. docs/rollout.md ("Refused before it starts").
 */
export function planRollout(req: RolloutRequest, ctx: PlanContext): Rollout {
  if (rolloutActive(ctx.current)) {
    throw new BootfleetError('ERR_CONFLICT', `rollout ${ctx.current?.id} (${ctx.current?.image}) is still ${ctx.current?.status}: wait for it, or stop it with bootfleet rollout abort`);
  }
  const options = rolloutOptions(req);
  const image = typeof req.image === 'string' ? req.image.trim() : '';
  if (image === '') throw new BootfleetError('ERR_USAGE', '--image is required: the image to roll out, <name>@<version> (bootfleet image list)');
  if (!ctx.imageExists(image)) throw new BootfleetError('ERR_USAGE', `--image ${image}: no such image in the store (bootfleet image list; build it with bootfleet image build)`);
  const selected = selectNodes(req.nodes, ctx.nodes);
  const problems: string[] = [];
  const nodes: RolloutNode[] = [];
  for (const n of selected) {
    const build = ctx.findImage(image, n.arch);
    if (!build || build.arch !== n.arch) {
      problems.push(`--image ${image} has no build for ${n.arch}, the CPU of ${n.hostname} (${n.mac}): build it with bootfleet image build <recipe> --arch ${n.arch}`);
      continue;
    }
    if (!n.ready) problems.push(`${n.hostname} (${n.mac}) is not ready (no fresh heartbeat): bring it up or leave it out with --nodes`);
    const to = `${build.name}@${build.version}`;
    const done = n.running === to;
    nodes.push({
      mac: n.mac, hostname: n.hostname, phase: done ? 'done' : 'pending', since: ctx.now.toISOString(),
      detail: done ? `already runs ${to}` : 'waiting for its turn', from: n.running, to, power: n.power,
    });
  }
  problems.push(...availabilityProblems(options.maxUnavailable, ctx));
  if (problems.length > 0) throw new BootfleetError('ERR_USAGE', `rollout refused, nothing was touched:\n  - ${problems.join('\n  - ')}`);
  return { id: ctx.id, image, status: 'running', options, nodes, startedAt: ctx.now.toISOString() };
}

/** Options with defaults, each checked; the error names the flag. */
export function rolloutOptions(req: RolloutRequest): RolloutOptions {
  const problems: string[] = [];
  const num = (value: unknown, flag: string, fallback: number, min: number, max: number): number => {
    if (value === undefined || value === null) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`--${flag} ${String(value)}: must be a whole number from ${min} to ${max}`);
    return n;
  };
  const o: RolloutOptions = {
    maxUnavailable: num(req.maxUnavailable, 'max-unavailable', DEFAULT_ROLLOUT_OPTIONS.maxUnavailable, 1, 1000),
    canary: num(req.canary, 'canary', DEFAULT_ROLLOUT_OPTIONS.canary, 0, 1000),
    minHealthySeconds: num(req.minHealthySeconds, 'min-healthy-time', DEFAULT_ROLLOUT_OPTIONS.minHealthySeconds, 0, 3600),
    bootDeadlineSeconds: num(req.bootDeadlineSeconds, 'boot-deadline', DEFAULT_ROLLOUT_OPTIONS.bootDeadlineSeconds, 10, 86_400),
    drainSeconds: num(req.drainSeconds, 'drain-deadline', DEFAULT_ROLLOUT_OPTIONS.drainSeconds, 0, 3600),
  };
  if (problems.length > 0) throw new BootfleetError('ERR_USAGE', problems.join('; '));
  return o;
}

/**
 * With `maxUnavailable` nodes out at once, a site keeps a healthy replica only if some ready
 * node is left to carry it (its own, or a helper the surge places first). Sites without content
 * are served nowhere yet and do not count.
 */
function availabilityProblems(maxUnavailable: number, ctx: PlanContext): string[] {
  const ready = ctx.nodes.filter((n) => n.ready).length;
  const sites = Object.values(ctx.state.sites).filter((s) => s.content !== undefined).map((s) => s.name).sort();
  if (sites.length === 0 || ready - maxUnavailable >= 1) return [];
  const most = Math.max(ready - 1, 0);
  return [`--max-unavailable ${maxUnavailable} would leave no healthy replica of ${sites.join(', ')} (${ready} ready node${ready === 1 ? '' : 's'}): use ${most === 0 ? 'more nodes' : `at most ${most}`}`];
}
