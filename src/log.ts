import pino from 'pino';

/**
 * A subsystem-tagged logger (`log.child({ sub: 'dhcp' })`). Modules take one as a dependency and
 * never reach for a global; tests pass `silentLogger()`.
 */
export type Logger = pino.Logger;

export function createLogger(options: { level?: string; destination?: number | string } = {}): Logger {
  const level = options.level ?? process.env['BOOTFLEET_LOG'] ?? 'info';
  return pino({ level, base: undefined }, pino.destination(options.destination ?? 2));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
