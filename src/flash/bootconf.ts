import { UsageError } from '../errors.js';

/**
 * The network-boot settings bootfleet writes into a Pi 4/5 bootloader config (bootconf.txt;
 * docs/raspberry-pi.md §2 for the keys). Pure text in, text out.
 */
export interface NetbootSettings {
  /** `BOOT_ORDER`, e.g. "0xf12" (network, then SD, loop). Must contain a network (2) mode. */
  bootOrder: string;
  /** `TFTP_IP`: overrides the DHCP siaddr (§2 "TFTP server address"). */
  tftpIp?: string;
  /** `TFTP_PREFIX`: 0 serial (default), 1 TFTP_PREFIX_STR, 2 MAC (§2 "Per-Pi directory"). */
  tftpPrefix?: 0 | 1 | 2;
  /** `TFTP_PREFIX_STR`, required with tftpPrefix 1; at most 32 characters. */
  tftpPrefixStr?: string;
}

/** Network first, then SD, then restart the list (§2: `0xf12`). */
export const DEFAULT_BOOT_ORDER = '0xf12';

/**
 * Checks and normalises the settings; throws a UsageError naming the flag to fix.
 * BOOT_ORDER: up to 8 hex nibbles, each a known mode (1-7, e, f; §2), one of them 2 (network).
 */
export function netbootSettings(input: { bootOrder?: string; tftpIp?: string; tftpPrefix?: number | string; tftpPrefixStr?: string }): NetbootSettings {
  const bootOrder = (input.bootOrder ?? DEFAULT_BOOT_ORDER).toLowerCase();
  const m = /^0x([0-9a-f]{1,8})$/.exec(bootOrder);
  if (!m?.[1]) throw new UsageError(`--boot-order ${input.bootOrder}: write it as 0x followed by 1-8 hex digits, e.g. 0xf12`);
  const modes = m[1];
  const bad = [...modes].find((c) => !/[1-7ef]/.test(c));
  if (bad !== undefined) throw new UsageError(`--boot-order ${input.bootOrder}: "${bad}" is not a boot mode (1 SD, 2 network, 3 RPIBOOT, 4 USB, 5 BCM-USB, 6 NVMe, 7 HTTP, e stop, f restart)`);
  if (!modes.includes('2')) throw new UsageError(`--boot-order ${input.bootOrder} has no network boot (mode 2); bootfleet needs it, e.g. 0xf12`);
  const out: NetbootSettings = { bootOrder };
  if (input.tftpIp !== undefined) {
    if (!isIPv4(input.tftpIp)) throw new UsageError(`--tftp-ip ${input.tftpIp}: give the controller's IPv4 address, e.g. 198.18.0.1`);
    out.tftpIp = input.tftpIp;
  }
  if (input.tftpPrefix !== undefined) {
    const p = Number(input.tftpPrefix);
    if (p !== 0 && p !== 1 && p !== 2) throw new UsageError(`--tftp-prefix ${input.tftpPrefix}: use 0 (serial), 1 (--tftp-prefix-str) or 2 (MAC)`);
    out.tftpPrefix = p;
  }
  if (input.tftpPrefixStr !== undefined) {
    if (out.tftpPrefix !== 1) throw new UsageError('--tftp-prefix-str is only used with --tftp-prefix 1');
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(input.tftpPrefixStr)) throw new UsageError(`--tftp-prefix-str ${input.tftpPrefixStr}: 1-32 characters of A-Z a-z 0-9 . _ -`);
    out.tftpPrefixStr = input.tftpPrefixStr;
  } else if (out.tftpPrefix === 1) {
    throw new UsageError('--tftp-prefix 1 needs --tftp-prefix-str <dir> (the TFTP folder every Pi then uses)');
  }
  return out;
}

/** The key=value lines the settings stand for, in a stable order. */
export function settingLines(s: NetbootSettings): string[] {
  const lines = [`BOOT_ORDER=${s.bootOrder}`];
  if (s.tftpIp !== undefined) lines.push(`TFTP_IP=${s.tftpIp}`);
  if (s.tftpPrefix !== undefined) lines.push(`TFTP_PREFIX=${s.tftpPrefix}`);
  if (s.tftpPrefixStr !== undefined) lines.push(`TFTP_PREFIX_STR=${s.tftpPrefixStr}`);
  return lines;
}

/**
 * The user's config with our keys set. Every line setting a key we set is removed wherever it
 * is (conditional sections included, so none can override ours); all other lines are kept in
 * order. Our keys go at the end, under a final `[all]` (added only when the config's last
 * section is some other filter), where the last value wins. Idempotent: rewriting the result
 * with the same settings gives the same text. Line ends become LF; the result ends with one LF.
 */
export function rewriteBootConf(config: string, s: NetbootSettings): string {
  const keys = new Set(['BOOT_ORDER', ...(s.tftpIp !== undefined ? ['TFTP_IP'] : []), ...(s.tftpPrefix !== undefined ? ['TFTP_PREFIX', 'TFTP_PREFIX_STR'] : [])]);
  const kept = config
    .replace(/\r\n/g, '\n')
    .split('\n')
    .filter((line) => !keys.has(keyOf(line) ?? ''));
  while (kept.length > 0 && (kept.at(-1) ?? '').trim() === '') kept.pop();
  const lastFilter = [...kept].reverse().find((l) => /^\s*\[.*\]\s*$/.test(l));
  if (lastFilter !== undefined && lastFilter.trim().toLowerCase() !== '[all]') kept.push('[all]');
  return [...kept, ...settingLines(s)].join('\n') + '\n';
}

/** Parses bootconf.txt into key → last value, ignoring comments, blank lines and section filters. */
export function bootConfValues(config: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of config.replace(/\r\n/g, '\n').split('\n')) {
    const key = keyOf(line);
    if (key !== undefined) values.set(key, line.slice(line.indexOf('=') + 1).trim());
  }
  return values;
}

function keyOf(line: string): string | undefined {
  const m = /^\s*([A-Za-z0-9_]+)\s*=/.exec(line);
  return m?.[1]?.toUpperCase();
}

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}
