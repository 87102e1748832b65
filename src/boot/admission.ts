/** Whether a Raspberry Pi may netboot: pure, unit-tested. */
export type Admission = 'approved' | 'pending';

/**
 * A Pi is approved when its serial (the TFTP prefix it asks under) or its MAC was enrolled with
 * `bootfleet node add`; any other Pi is held pending — it gets an address and shows up in
 * `node list`, but no boot files — so a Pi plugged into the wrong switch port does not silently
 * join the cluster.
 */
export function piAdmission(pi: { serial?: string; mac?: string }, enrolled: ReadonlyArray<{ serial: string; mac?: string }>): Admission {
  const ok = enrolled.some((e) => (pi.serial !== undefined && e.serial === pi.serial) || (pi.mac !== undefined && e.mac !== undefined && e.mac === pi.mac));
  return ok ? 'approved' : 'pending';
}
