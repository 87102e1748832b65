import { BootfleetError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 };

/** `10s`, `5m`, `1h`, `90` (seconds) → whole seconds; anything else is an error naming the flag. */
export function durationSeconds(text: string, flag: string): number {
  const m = /^\s*(\d+)\s*(s|m|h)?\s*$/.exec(text);
  if (!m?.[1]) throw new BootfleetError('ERR_USAGE', `--${flag} ${text}: give a duration like 10s, 5m or 1h`);
  return Number(m[1]) * (UNITS[m[2] ?? ''] ?? 1);
}
