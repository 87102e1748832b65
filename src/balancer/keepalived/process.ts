import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { BootfleetError, errorMessage } from '../../errors.js';
import { writeFileAtomic } from '../../store/atomic.js';
import type { RenderedFile } from '../model.js';
import { isAlive, signal, waitGone } from '../haproxy/pids.js';
import { VRRP_FILES } from './vrrp.js';

export interface ManagedKeepalivedOptions {
  /** The keepalived binary (default `keepalived` from PATH). */
  binary?: string;
  /** Wraps the long-running command, e.g. NetNamespace.wrap to run it inside a namespace. */
  wrap?: (file: string, args: string[]) => [string, string[]];
  /** Pause before starting keepalived again after it died (default 1000 ms). */
  restartDelayMs?: number;
  /** Told when keepalived exits on its own, and when it was started again. */
  onEvent?: (e: { event: 'exited'; code: number | null; signal: string | null } | { event: 'restarted'; pid: number } | { event: 'restart-failed'; error: string }) => void;
}

/**
 * Debian's keepalived as a child of the controller, for the balancer pair's VRRP instance
 * (src/balancer/keepalived/vrrp.ts). It runs in the foreground (`-n`) with only its VRRP
 * subsystem; its VRRP child exits with it (seen with 2.2.7 even on SIGKILL), removing the address
 * and sending a priority-0 advert so the peer takes over at once. If it dies while we did not
 * stop it, it is started again: it comes back BACKUP and, with nopreempt, leaves the address where
 * it is. It also gets SIGTERM when the controller process dies (setpriv --pdeathsig). stop() ends
 * it by PID. docs/balancer.md ("Balancer pair (VRRP)").
 */
export class ManagedKeepalived {
  readonly paths: { config: string; pidFile: string; vrrpPidFile: string; log: string };
  private readonly binary: string;
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    private readonly opts: ManagedKeepalivedOptions = {},
  ) {
    const d = dir.replace(/\/+$/, '');
    this.paths = { config: `${d}/${VRRP_FILES.config}`, pidFile: `${d}/keepalived.pid`, vrrpPidFile: `${d}/keepalived-vrrp.pid`, log: `${d}/keepalived.log` };
    this.binary = opts.binary ?? 'keepalived';
  }

  /** keepalived's main process (undefined when it does not run). */
  get pid(): number | undefined {
    return this.child?.pid !== undefined && isAlive(this.child.pid) ? this.child.pid : undefined;
  }

  /** The VRRP child's pid, from its pid file. */
  async vrrpPid(): Promise<number | undefined> {
    const pid = Number((await readFile(this.paths.vrrpPidFile, 'utf8').catch(() => '')).trim());
    return pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /** Writes `files` (renderVrrp's), checks them with `keepalived --config-test` and starts keepalived. */
  async start(files: RenderedFile[]): Promise<void> {
    if (this.child) throw new BootfleetError('ERR_USAGE', `keepalived already runs for ${this.dir} (pid ${this.child.pid})`);
    this.stopping = false;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const f of files) {
      const path = `${this.dir.replace(/\/+$/, '')}/${f.path}`;
      await writeFileAtomic(path, f.text);
      if (f.mode !== undefined) await chmod(path, f.mode);
    }
    await this.check();
    await this.endLeftover();
    this.spawn();
  }

  /** SIGTERM by PID (keepalived gives up the address, sends priority 0), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (child?.pid === undefined) return;
    live.delete(this);
    const pids = [child.pid, ...[await this.vrrpPid()].filter((p): p is number => p !== undefined)];
    signal(child.pid, 'SIGTERM');
    if (!(await waitGone(pids, graceMs))) for (const p of pids) signal(p, 'SIGKILL');
    if (!(await waitGone(pids, 5000))) throw new BootfleetError('ERR_COMMAND_FAILED', `keepalived processes ${pids.filter(isAlive).join(' ')} did not exit`);
  }

  /** SIGKILL to keepalived by PID (the process-exit safety net; its VRRP child follows). */
  killNow(): void {
    if (this.child?.pid !== undefined) signal(this.child.pid, 'SIGKILL');
  }

  private spawn(): void {
    // -n: stay in the foreground as our child; -l: log to the console (our log file); -D: state
    // changes in detail; -P: VRRP only (no IPVS checkers); our own pid files, so keepalived's
    // "already running" check concerns this instance only.
    const args = ['-n', '-l', '-D', '-P', '-f', this.paths.config, '-p', this.paths.pidFile, '-r', this.paths.vrrpPidFile];
    // setpriv (util-linux) arms SIGTERM for when the controller dies, then execs keepalived in
    // place: a crashed controller gives the address up to the peer, whose controller still
    // renders its HAProxy from the placement, instead of holding it with a frozen config.
    const command: [string, string[]] = ['setpriv', ['--pdeathsig', 'TERM', this.binary, ...args]];
    const [file, argv] = this.opts.wrap ? this.opts.wrap(...command) : command;
    const log = openSync(this.paths.log, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(file, argv, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    if (child.pid === undefined) throw new BootfleetError('ERR_COMMAND_FAILED', `could not start ${file}`);
    child.on('error', () => undefined);
    child.once('exit', (code, sig) => this.exited(child, code, sig));
    this.child = child;
    live.add(this);
  }

  private exited(child: ChildProcess, code: number | null, sig: NodeJS.Signals | null): void {
    if (this.stopping || this.child !== child) return;
    this.child = undefined;
    live.delete(this);
    this.opts.onEvent?.({ event: 'exited', code, signal: sig });
    this.scheduleRestart();
  }

  /** Starts keepalived again after the delay, and keeps trying while that fails. */
  private scheduleRestart(): void {
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.restart().catch((err: unknown) => {
        this.opts.onEvent?.({ event: 'restart-failed', error: errorMessage(err) });
        this.scheduleRestart();
      });
    }, this.opts.restartDelayMs ?? 1000);
  }

  private async restart(): Promise<void> {
    // Its VRRP child normally exits with it; one still running would hold the pid file.
    await this.endLeftover();
    if (this.stopping) return;
    this.spawn();
    this.opts.onEvent?.({ event: 'restarted', pid: this.child?.pid ?? 0 });
  }

  /**
   * A keepalived left by an earlier run on this dir (a controller killed by SIGKILL leaves its
   * children) is ended by the PID in our pid files, and only if that process is keepalived.
   */
  private async endLeftover(): Promise<void> {
    const pids: number[] = [];
    for (const f of [this.paths.pidFile, this.paths.vrrpPidFile]) {
      const pid = Number((await readFile(f, 'utf8').catch(() => '')).trim());
      const comm = pid > 0 ? (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() : '';
      if (comm === 'keepalived' && isAlive(pid)) pids.push(pid);
    }
    if (pids.length === 0) return;
    for (const p of pids) signal(p, 'SIGTERM');
    if (!(await waitGone(pids, 5000))) for (const p of pids) signal(p, 'SIGKILL');
    await waitGone(pids, 2000);
  }

  private async check(): Promise<void> {
    // Where keepalived will run (the interface must exist there).
    const test: [string, string[]] = [this.binary, ['--config-test', '-f', this.paths.config]];
    const r = await execa(...(this.opts.wrap ? this.opts.wrap(...test) : test), { reject: false, all: true });
    if ((await execa('setpriv', ['--version'], { reject: false })).exitCode !== 0) {
      throw new BootfleetError('ERR_COMMAND_FAILED', 'setpriv not found: install util-linux (apt-get install util-linux)');
    }
    if ((r as { code?: string }).code === 'ENOENT') {
      throw new BootfleetError('ERR_COMMAND_FAILED', `keepalived binary "${this.binary}" not found: install keepalived (apt-get install keepalived) or set balancer.vip.binary`);
    }
    if (r.exitCode !== 0) throw new BootfleetError('ERR_COMMAND_FAILED', `keepalived --config-test refused ${this.paths.config}:\n${String(r.all ?? '').trim()}`);
  }
}

const live = new Set<ManagedKeepalived>();

// Never leave a keepalived behind when this process exits (synchronous: 'exit' runs no async work).
process.once('exit', () => {
  for (const k of live) k.killNow();
});
