/** Names of the build stages, in the order they run. */
export type Stage = 'fetch' | 'rootfs' | 'base-layer' | 'overlays' | 'builtin' | 'initramfs' | 'squashfs' | 'pi' | 'store' | 'loaders';

/** One finished stage: how long it took and how big its product is (bytes, when it has one). */
export interface StageReport {
  stage: Stage;
  arch: string;
  seconds: number;
  bytes?: number;
  /** e.g. "base cache hit" or "6.1.0-56-amd64". */
  note?: string;
}

/**
 * Receives a line per finished stage; the CLI prints them, tests collect them. `start`, if set, is
 * told when a stage begins (the CLI's live status line).
 */
export type ProgressSink = ((report: StageReport) => void) & { start?: (stage: Stage, arch: string) => void };

/**
 * Runs `fn` as `stage`, timing it and reporting to `sink`. `fn` returns its product size and an
 * optional note with its value; a stage that throws reports nothing (the error says enough).
 */
export async function timed<T>(sink: ProgressSink, stage: Stage, arch: string, fn: () => Promise<{ value: T; bytes?: number; note?: string }>): Promise<T> {
  sink.start?.(stage, arch);
  const start = process.hrtime.bigint();
  const { value, bytes, note } = await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  sink({ stage, arch, seconds, ...(bytes !== undefined ? { bytes } : {}), ...(note !== undefined ? { note } : {}) });
  return value;
}

/** "rootfs     amd64   2.1 MiB   0.42 s  (base cache hit)" */
export function formatStage(r: StageReport): string {
  const size = r.bytes === undefined ? '' : formatBytes(r.bytes);
  return `${r.stage.padEnd(10)} ${r.arch.padEnd(6)} ${size.padStart(10)} ${r.seconds.toFixed(2).padStart(8)} s${r.note ? `  (${r.note})` : ''}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(1)} ${units[i] ?? 'GiB'}`;
}
