import { createHash } from 'node:crypto';
import type { Soc } from './eeprom.js';

/**
 * The text of `pieeprom.sig` as `rpi-eeprom-digest` writes it (docs/raspberry-pi.md §4
 * "pieeprom.sig"): the image's lowercase hex SHA-256 on line 1, `ts: <unix seconds>`, and
 * `target-soc: 2711|2712` (rpi-eeprom-update passes -c). No RSA signature: the bootloader checks
 * one only in secure-boot mode.
 */
export function eepromSig(image: Uint8Array, opts: { ts: number; targetSoc?: Soc }): string {
  if (!Number.isInteger(opts.ts) || opts.ts < 0) throw new RangeError(`ts must be whole unix seconds, got ${opts.ts}`);
  const lines = [createHash('sha256').update(image).digest('hex'), `ts: ${opts.ts}`];
  if (opts.targetSoc !== undefined) lines.push(`target-soc: ${opts.targetSoc}`);
  return lines.join('\n') + '\n';
}

/** `SOURCE_DATE_EPOCH` when set (as rpi-eeprom-digest does), else the clock. */
export function sigTimestamp(env: NodeJS.ProcessEnv = process.env, now = Date.now()): number {
  const v = env['SOURCE_DATE_EPOCH'];
  if (v !== undefined && /^\d+$/.test(v)) return Number(v);
  return Math.floor(now / 1000);
}
