/**
 * The small error vocabulary of bootfleet. Library code throws these; only src/cli.ts maps them
 * to exit codes. Every `code` is stable and listed in docs/errors.md.
 */
export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_NOT_FOUND'
  | 'ERR_USAGE'
  | 'ERR_BIND_FAILED'
  | 'ERR_STATE_CORRUPT'
  | 'ERR_STATE_CONFLICT'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_STORE_BUSY'
  | 'ERR_NOT_FOUND'
  | 'ERR_CONFLICT'
  | 'ERR_NODE_NOT_FOUND'
  | 'ERR_TEMPLATE'
  | 'ERR_LAB'
  | 'ERR_COMMAND_FAILED'
  | 'ERR_INTERNAL';

export class BootfleetError extends Error {
  override name = 'BootfleetError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Wrong command-line use: the message says which flag or argument to fix. */
export class UsageError extends BootfleetError {
  override name = 'UsageError';
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** The configuration file is invalid; `problems` each start with the dotted key to fix. */
export class ConfigError extends BootfleetError {
  override name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super('ERR_CONFIG_INVALID', `${file} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
