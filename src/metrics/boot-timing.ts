import type { BootEvent, BootStage } from '../cluster/nodes.js';

/**
 * Boot stage durations for /metrics (docs/metrics.md): the seconds from the start of a boot (its
 * first `dhcp` event) to each later stage, once per stage and boot. Pure: given a node's events
 * with the newest last, says what the newest one measures, if anything.
 */

/** Stages timed from the boot's start; `dhcp` starts a boot, the others are not part of one. */
export const TIMED_STAGES: readonly BootStage[] = [
  'tftp', 'ipxe-script', 'kernel', 'initrd', 'initramfs', 'rootfs-fetched', 'verified', 'switched', 'init-done',
];

/** Stages that end a boot: the next `dhcp` event starts a new one. */
const ENDS_A_BOOT: ReadonlySet<BootStage> = new Set(['init-done', 'reboot', 'verify-failed', 'overlay-refused']);

export interface StageTiming {
  stage: BootStage;
  seconds: number;
}

/**
 * The timing the newest event of `events` adds: undefined when it is not a timed stage, when no
 * `dhcp` event starts its boot (events are capped per node, or the node booted from elsewhere), or
 * when the same stage was already seen in this boot (iPXE and the Pi firmware fetch several files
 * over TFTP; only the first counts).
 */
export function newestStageTiming(events: readonly BootEvent[]): StageTiming | undefined {
  const newest = events.at(-1);
  if (!newest || !TIMED_STAGES.includes(newest.stage)) return undefined;
  let start: BootEvent | undefined;
  for (let i = events.length - 2; i >= 0; i--) {
    const e = events[i];
    if (!e || ENDS_A_BOOT.has(e.stage)) break;
    if (e.stage === newest.stage) return undefined;
    if (e.stage === 'dhcp') start = e;
  }
  if (!start) return undefined;
  const seconds = (Date.parse(newest.at) - Date.parse(start.at)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? { stage: newest.stage, seconds } : undefined;
}
