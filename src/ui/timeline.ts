import type { BootEvent, BootStage } from '../cluster/nodes.js';

/** One step of a node's last boot as the Fleet page shows it. */
export interface TimelineStep {
  label: 'DHCP' | 'TFTP' | 'kernel' | 'rootfs' | 'ready';
  /** When the step was reached (ISO 8601), or undefined when it was not (yet). */
  at?: string;
  /** Milliseconds since the previous step that was reached (undefined for the first, or when not reached). */
  ms?: number;
}

export interface Timeline {
  steps: TimelineStep[];
  /** From the first DHCP message to the last step reached. */
  totalMs: number;
  /** The initramfs refused the root or the overlay (verify-failed, overlay-refused). */
  failed?: string;
}

/** Each step and the events that reach it (the first one after the boot's DHCP counts). */
const STEPS: Array<{ label: TimelineStep['label']; stages: BootStage[] }> = [
  { label: 'DHCP', stages: ['dhcp'] },
  { label: 'TFTP', stages: ['tftp'] },
  { label: 'kernel', stages: ['kernel', 'initramfs'] },
  { label: 'rootfs', stages: ['rootfs-fetched', 'verified'] },
  { label: 'ready', stages: ['init-done', 'agent'] },
];

/** Stages only a booting machine's firmware or loader produces: they mark where a boot begins. */
const LOADER_STAGES = new Set<BootStage>(['tftp', 'ipxe-script', 'kernel', 'initrd']);
/** What the firmware and loaders of one boot produce, in a run with no gap longer than this. */
const CHAIN_STAGES = new Set<BootStage>(['dhcp', ...LOADER_STAGES]);
const CHAIN_GAP_MS = 60_000;

/**
 * The node's last boot, from its event list (oldest first): DHCP → TFTP → kernel → rootfs →
 * ready, each with the time it took since the step before. The boot is found from its newest
 * firmware/loader request (a Pi or PXE ROM asking for files, iPXE fetching its script or
 * kernel), going back through the run of DHCP and loader events before it (a PXE ROM's DHCP and
 * TFTP, then iPXE's own DHCP) to the first DHCP of that run; the run ends at any other event (the
 * running system's, a `reboot`) or a pause of over a minute, so lease renewals before a crash do
 * not count. A node booted straight into the initramfs (no loader events) counts from the DHCP
 * before its newest `initramfs` event. Undefined when no boot was seen.
 */
export function bootTimeline(events: readonly BootEvent[]): Timeline | undefined {
  let anchor = findLast(events, (e) => LOADER_STAGES.has(e.stage));
  if (anchor < 0) anchor = findLast(events, (e) => e.stage === 'initramfs');
  if (anchor < 0) return undefined;
  let start = anchor;
  for (let i = anchor - 1; i >= 0; i--) {
    const e = events[i] as BootEvent;
    const next = events[i + 1] as BootEvent;
    if (!CHAIN_STAGES.has(e.stage) || Date.parse(next.at) - Date.parse(e.at) > CHAIN_GAP_MS) break;
    if (e.stage === 'dhcp') start = i;
  }
  const boot = events.slice(start);
  const steps: TimelineStep[] = [];
  let previous: number | undefined;
  let first: number | undefined;
  let last: number | undefined;
  for (const step of STEPS) {
    const hit = boot.find((e) => step.stages.includes(e.stage));
    if (!hit) {
      steps.push({ label: step.label });
      continue;
    }
    const at = Date.parse(hit.at);
    steps.push({ label: step.label, at: hit.at, ...(previous === undefined ? {} : { ms: Math.max(0, at - previous) }) });
    first ??= at;
    previous = at;
    last = at;
  }
  const failure = boot.find((e) => e.stage === 'verify-failed' || e.stage === 'overlay-refused');
  return {
    steps,
    totalMs: first === undefined || last === undefined ? 0 : Math.max(0, last - first),
    ...(failure ? { failed: `${failure.stage}: ${failure.detail}` } : {}),
  };
}

function findLast<T>(list: readonly T[], pred: (x: T) => boolean): number {
  for (let i = list.length - 1; i >= 0; i--) if (pred(list[i] as T)) return i;
  return -1;
}

/** "850 ms", "4.2 s", "3 min 5 s": a duration as an operator reads it. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
