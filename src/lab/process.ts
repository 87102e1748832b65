import { execa, type ResultPromise } from 'execa';
import { createWriteStream, type WriteStream } from 'node:fs';
import { BootfleetError } from '../errors.js';

/** How a lab child ended. */
export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

export interface LabProcessOptions {
  /** Shown in errors and logs ("node-1", "controller"). */
  name: string;
  /** stdout and stderr are appended here as they arrive. */
  logFile?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Output kept in memory per process; older text is dropped (the log file keeps everything). */
const MAX_BUFFER = 2 * 1024 * 1024;

/**
 * A long-running child started by the lab (QEMU, a controller, dnsmasq …). Its stdout+stderr
 * are captured to memory and to a log file; `waitFor` watches them. The child is wrapped in
 * `setpriv --pdeathsig KILL` so it dies with this process even on SIGKILL (an ava timeout),
 * and every live child is SIGKILLed on 'exit'. `argv` is the full command, usually
 * `NetNamespace.wrap(…)`: `ip netns exec` execs in place, so `pid` is the program's own PID.
 */
export class LabProcess {
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  private text = '';
  private exit: ProcessExit | undefined;
  private readonly watchers = new Set<() => void>();
  private readonly child: ResultPromise;
  private readonly log: WriteStream | undefined;

  constructor(argv: readonly [string, readonly string[]], readonly options: LabProcessOptions) {
    const [file, args] = argv;
    // setpriv goes innermost: `ip netns exec` execs in place, so setpriv's parent is us and
    // the death signal it arms survives its own exec into the program.
    const inNetns = file === 'ip' && args[0] === 'netns' && args[1] === 'exec';
    const prefix = inNetns ? args.slice(0, 3) : [];
    const program = inNetns ? args.slice(3) : [file, ...args];
    const [cmd, ...rest] = [...(inNetns ? ['ip', ...prefix] : []), 'setpriv', '--pdeathsig', 'KILL', ...program];
    this.log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    this.child = execa(cmd ?? file, rest, {
      buffer: false, reject: false, stdin: 'ignore', cleanup: true,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    if (this.child.pid === undefined) throw new BootfleetError('ERR_LAB', `${options.name}: could not start ${file}`);
    this.pid = this.child.pid;
    live.add(this);
    this.child.stdout?.on('data', (c: Buffer) => this.append(c));
    this.child.stderr?.on('data', (c: Buffer) => this.append(c));
    this.exited = this.child.then((r) => {
      this.exit = { code: r.exitCode ?? null, signal: r.signal ?? null };
      live.delete(this);
      this.log?.end();
      this.notify();
      return this.exit;
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Everything captured so far (up to the last 2 MB). */
  output(): string {
    return this.text;
  }

  /** The last `n` lines of output, carriage returns and escape sequences removed. */
  tail(n = 40): string {
    // eslint-disable-next-line no-control-regex -- stripping terminal escapes is the point
    const clean = this.text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r/g, '');
    return clean.split('\n').slice(-n).join('\n');
  }

  /**
   * Resolves with the first match of `pattern` in the output (also output seen before the
   * call). Rejects after `timeoutMs`, or if the process exits first, with the last 40 lines.
   */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.text.match(pattern);
        if (m) return done(() => resolve(m));
        if (this.exit) return done(() => reject(this.failure(`exited (code ${this.exit?.code}, signal ${this.exit?.signal}) before printing ${pattern}`)));
      };
      const timer = setTimeout(() => done(() => reject(this.failure(`no ${pattern} within ${timeoutMs} ms`))), timeoutMs);
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.watchers.delete(check);
        settle();
      };
      this.watchers.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to repeat. */
  async stop(graceMs = 3000): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    signal(this.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(this.pid, 'SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private failure(what: string): BootfleetError {
    const where = this.options.logFile ? ` (full log: ${this.options.logFile})` : '';
    return new BootfleetError('ERR_LAB', `${this.options.name}: ${what}${where}; last 40 lines:\n${this.tail(40)}`);
  }

  private append(chunk: Buffer): void {
    this.log?.write(chunk);
    this.text += chunk.toString('latin1');
    if (this.text.length > MAX_BUFFER) this.text = this.text.slice(-MAX_BUFFER);
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

const live = new Set<LabProcess>();

/** PIDs of lab children still running (tests assert this is empty after destroy). */
export function livePids(): number[] {
  return [...live].map((p) => p.pid);
}

// Synchronous on purpose: only sync work runs in 'exit'. Kills by PID, only our own children.
process.once('exit', () => {
  for (const p of live) signal(p.pid, 'SIGKILL');
});
