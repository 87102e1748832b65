import type { LabController } from './lab-controller.js';

/** A controller's log line saying it leads (src/controller/cluster-loop.ts), with the log's own timestamp. */
export const LEADING = /"time":(\d+)[^\n]*leading: this controller runs placement and rollouts/;

/**
 * Kills `leader` by PID (SIGKILL: no goodbye, its lease renewals just stop) and returns the
 * seconds until `follower` logs that it leads: the survivor's own log timestamp minus the moment
 * of the kill, one clock. Used by `npm run bench -- takeover` and `-- scale`.
 */
export async function killLeaderAndTime(leader: LabController, follower: LabController, timeoutMs = 120_000): Promise<number> {
  const killedAt = Date.now();
  process.kill(leader.process.pid, 'SIGKILL');
  await leader.process.exited;
  const m = await follower.process.waitFor(LEADING, timeoutMs);
  return (Number(m[1]) - killedAt) / 1000;
}
