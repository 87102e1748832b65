import pino from 'pino';
import { prettyStream } from './log-pretty.js';

/**
 * A subsystem-tagged logger (`log.child({ sub: 'dhcp' })`). Modules take one as a dependency and
 * never reach for a global; tests pass `silentLogger()`.
 */
export type Logger = pino.Logger;

/**
 * JSON lines on stderr (or `destination`), the level from `BOOTFLEET_LOG` (default info). On a
 * terminal stderr the lines are made readable (src/log-pretty.ts); `BOOTFLEET_LOG_FORMAT=json` or
 * `pretty` overrides that (docs/service.md "Logs").
 */
export function createLogger(options: { level?: string; destination?: number | string } = {}): Logger {
  const level = options.level ?? process.env['BOOTFLEET_LOG'] ?? 'info';
  if (options.destination === undefined && logFormat(process.env['BOOTFLEET_LOG_FORMAT'], process.stderr.isTTY) === 'pretty') {
    return pino({ level, base: undefined }, prettyStream(process.stderr));
  }
  return pino({ level, base: undefined }, pino.destination(options.destination ?? 2));
}

/** `pretty` on a terminal, `json` otherwise, unless BOOTFLEET_LOG_FORMAT says which. */
export function logFormat(env: string | undefined, isTty: boolean): 'json' | 'pretty' {
  if (env === 'json' || env === 'pretty') return env;
  return isTty ? 'pretty' : 'json';
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
