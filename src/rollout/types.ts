/**
 * A rollout (docs/rollout.md): the controller reboots nodes, a few at a time, onto a new image,
 * draining each in the balancer first and readmitting it only after its sites pass fresh health
 * checks. It is persisted (state store key `rollout`) after every transition, so a controller
 * restart resumes it where it was. This JSON shape is what `GET /api/rollout` returns, what the
 * CLI and the web UI show: keep it stable.
 */
export type RolloutStatus = 'running' | 'paused' | 'halted' | 'aborted' | 'done';

/**
 * One node's way through a rollout:
 *   pending → surging → draining → rebooting → booting → verifying → observing → done
 * and on a failure after its reboot: rolling-back → rolled-back (or failed, when it did not come
 * back on its previous image either).
 */
export type NodePhase =
  | 'pending' | 'surging' | 'draining' | 'rebooting' | 'booting' | 'verifying' | 'observing' | 'done'
  | 'rolling-back' | 'rolled-back' | 'failed';

/** How a node is rebooted: its agent (default), `ssh … reboot`, or an operator's command. */
export type PowerDriver = 'agent' | 'ssh' | 'command';

export const POWER_DRIVERS: readonly PowerDriver[] = ['agent', 'ssh', 'command'];

export interface RolloutOptions {
  /** Nodes out of service at once. */
  maxUnavailable: number;
  /** Nodes rolled (and observed) first, alone, before the others start. */
  canary: number;
  /** How long a readmitted node is watched for errors before it counts as done. */
  minHealthySeconds: number;
  /** From its reboot: the node must run the new image with every site passing its check by then. */
  bootDeadlineSeconds: number;
  /** How long a drained node's open sessions get to finish before it is rebooted anyway. */
  drainSeconds: number;
}

/** Steps of a reboot, shared by the forward way and the way back. */
export type RebootStage = 'rebooting' | 'booting' | 'verifying';

export interface RolloutNode {
  mac: string;
  hostname: string;
  phase: NodePhase;
  /** When it entered `phase` (ISO 8601). */
  since: string;
  /** What it waits for or what happened, in words. */
  detail: string;
  /** The image it ran when the rollout started (`name@version`, one build). */
  from: string;
  /** The build it is rolled onto (`name@version` for its CPU). */
  to: string;
  power: PowerDriver;
  /** Rolling back: where in its reboot onto `from` it is. */
  stage?: RebootStage;
  /** The reboot token last asked for (agent driver: the node reboots when its manifest's changes). */
  token?: string;
  /** When the current reboot was asked for (ISO 8601): boot deadlines count from here. */
  rebootAt?: string;
  /** Helper replicas this node's surge asked for, per site. */
  surge?: Record<string, number>;
  /** Sessions still open when the drain deadline passed (cut by the reboot). */
  sessionsCut?: number;
  /** Observing: the node's error counters (5xx, connection and response errors) when it was readmitted. */
  errorsBase?: number;
  /** Verifying: since when its sites are served but a check fails (ISO 8601). */
  failingSince?: string;
  /** Why it is rolled back (or failed). */
  failure?: string;
  /** The power driver failed (ssh, command): the node was not rebooted. */
  powerError?: string;
}

export interface Rollout {
  id: string;
  /** The image as asked for (`name` or `name@version`). */
  image: string;
  status: RolloutStatus;
  /** Why it halted or was aborted. */
  reason?: string;
  options: RolloutOptions;
  nodes: RolloutNode[];
  startedAt: string;
  /** When it ended: done, or halted/aborted with no node left in flight. */
  finishedAt?: string;
}

/** Phases in which a node is out of the ordinary (a rollout works on it). */
export const IN_FLIGHT: readonly NodePhase[] = ['surging', 'draining', 'rebooting', 'booting', 'verifying', 'observing', 'rolling-back'];

export function inFlight(n: RolloutNode): boolean {
  return IN_FLIGHT.includes(n.phase);
}

/** A rollout that still works on something: a new one must wait. */
export function rolloutActive(r: Rollout | undefined): boolean {
  return r !== undefined && r.finishedAt === undefined;
}
