/**
 * How many replicas an overloaded (or quiet) site should have, with hysteresis so a steady
 * request rate near a threshold never flaps (docs/placement.md "Overload helpers"). The
 * controller feeds the result into PlacementSite.replicas; placeSites then adds helpers from
 * the site's own ranking and, when the count falls, drops the lowest-ranked one again.
 */
import { BootfleetError } from '../../errors.js';

export interface ScaleInput {
  /** Replicas now. */
  replicas: number;
  minReplicas: number;
  maxReplicas: number;
  /** Requests per second over the measuring window, whole site. */
  requestRate: number;
  /** Requests per second one replica handles comfortably. */
  perReplicaCapacity: number;
  /** When the replica count last changed (ms, same clock as `now`). */
  lastChangeAt: number;
  now: number;
}

export interface ScalePolicy {
  /** Add replicas when the rate per replica exceeds high × capacity. Default 0.8. */
  high?: number;
  /** Remove one when, with one fewer, the rate per replica would stay below low × capacity. Default 0.4. */
  low?: number;
  /** No removal within this long of the last change. Default 300 000 (5 minutes). */
  cooldownMs?: number;
}

export const DEFAULT_SCALE_POLICY: Required<ScalePolicy> = { high: 0.8, low: 0.4, cooldownMs: 300_000 };

/**
 * Scale up at once, straight to enough replicas that each is at or below high × capacity
 * (an overloaded site needs help now, not one replica per cooldown). Scale down one replica
 * at a time, only when the remaining ones would still be below low × capacity, and not within
 * the cooldown. Because low < high, the count just reached never satisfies the opposite rule
 * at the same rate, so a steady rate settles after at most one change in each direction.
 * `reason` is set whenever the count differs from s.replicas.
 */
export function desiredReplicas(s: ScaleInput, policy: ScalePolicy = {}): { replicas: number; reason?: string } {
  const { high, low, cooldownMs } = { ...DEFAULT_SCALE_POLICY, ...policy };
  checkScale(s, high, low, cooldownMs);
  const current = Math.min(Math.max(s.replicas, s.minReplicas), s.maxReplicas);
  const perReplica = s.requestRate / current;
  if (perReplica > high * s.perReplicaCapacity && current < s.maxReplicas) {
    const replicas = Math.min(s.maxReplicas, Math.ceil(s.requestRate / (high * s.perReplicaCapacity)));
    return { replicas, reason: `overloaded: ${round(perReplica)} req/s per replica > ${high} × ${s.perReplicaCapacity}` };
  }
  if (current > s.minReplicas && s.requestRate / (current - 1) < low * s.perReplicaCapacity && s.now - s.lastChangeAt >= cooldownMs) {
    return { replicas: current - 1, reason: `underloaded: ${round(s.requestRate / (current - 1))} req/s per replica with one fewer < ${low} × ${s.perReplicaCapacity}` };
  }
  if (current !== s.replicas) return { replicas: current, reason: `clamped to [${s.minReplicas}, ${s.maxReplicas}]` };
  return { replicas: current };
}

function checkScale(s: ScaleInput, high: number, low: number, cooldownMs: number): void {
  const problems: string[] = [];
  if (!Number.isInteger(s.minReplicas) || s.minReplicas < 1) problems.push(`minReplicas ${s.minReplicas} must be an integer >= 1`);
  if (!Number.isInteger(s.maxReplicas) || s.maxReplicas < s.minReplicas) problems.push(`maxReplicas ${s.maxReplicas} must be an integer >= minReplicas`);
  if (!Number.isInteger(s.replicas) || s.replicas < 0) problems.push(`replicas ${s.replicas} must be an integer >= 0`);
  if (!(s.requestRate >= 0) || !Number.isFinite(s.requestRate)) problems.push(`requestRate ${s.requestRate} must be a number >= 0`);
  if (!(s.perReplicaCapacity > 0) || !Number.isFinite(s.perReplicaCapacity)) problems.push(`perReplicaCapacity ${s.perReplicaCapacity} must be a number > 0`);
  if (!(low > 0 && low < high)) problems.push(`scale policy low ${low} and high ${high}: need 0 < low < high`);
  if (!(cooldownMs >= 0)) problems.push(`scale policy cooldownMs ${cooldownMs} must be >= 0`);
  if (problems.length > 0) throw new BootfleetError('ERR_CONFIG_INVALID', `desiredReplicas: ${problems.join('; ')}`);
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
