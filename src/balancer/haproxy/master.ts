import { BootfleetError } from '../../errors.js';
import { askSocket } from './socket.js';

export interface ProcInfo {
  masterPid: number;
  /** Reloads since the master started (failed ones included). */
  reloads: number;
  /** Failed reloads since the last successful one (0 after a success). */
  failed: number;
  /** The current worker(s). */
  workers: Array<{ pid: number; reloads: number }>;
  /** Workers of earlier configurations still finishing their connections. */
  oldWorkers: Array<{ pid: number; reloads: number }>;
}

/**
 * The master CLI (`-S <socket>`, management.txt §9.4). In 2.6 it does not close a
 * non-interactive connection after a command (the research lab saw a `show proc` that never got
 * EOF), so every command is sent as `<cmd>; quit`, and with a timeout.
 */
export class MasterCli {
  constructor(
    readonly socket: string,
    readonly timeoutMs = 2000,
  ) {}

  command(line: string): Promise<string> {
    if (/[\n\r;]/.test(line)) throw new BootfleetError('ERR_INTERNAL', `master command must be one plain line: ${JSON.stringify(line)}`);
    return askSocket(this.socket, `${line}; quit\n`, this.timeoutMs);
  }

  async showProc(): Promise<ProcInfo> {
    return parseShowProc(await this.command('show proc'));
  }
}

/**
 * `show proc`:
 * ```
 * #<PID>          <type>          <reloads>       <uptime>        <version>
 * 22810           master          4 [failed: 1]   0d00h02m23s     2.6.12-1+deb12u4
 * # workers
 * 28680           worker          1               0d00h00m07s     2.6.12-1+deb12u4
 * # old workers
 * # programs
 * ```
 */
export function parseShowProc(text: string): ProcInfo {
  let section = '';
  let master: { pid: number; reloads: number; failed: number } | undefined;
  const workers: ProcInfo['workers'] = [];
  const oldWorkers: ProcInfo['oldWorkers'] = [];
  for (const line of text.split('\n')) {
    if (/^# ?[a-z]/.test(line)) {
      section = line.replace(/^#\s*/, '').trim();
      continue;
    }
    const m = /^(\d+)\s+(master|worker)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?/.exec(line);
    if (!m) continue;
    const [pid, reloads] = [Number(m[1]), Number(m[3])];
    if (m[2] === 'master') master = { pid, reloads, failed: Number(m[4] ?? 0) };
    else if (section === 'old workers') oldWorkers.push({ pid, reloads });
    else workers.push({ pid, reloads });
  }
  if (!master) throw new BootfleetError('ERR_COMMAND_FAILED', `unexpected "show proc" reply: ${text.slice(0, 300)}`);
  return { masterPid: master.pid, reloads: master.reloads, failed: master.failed, workers, oldWorkers };
}
