import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { BootfleetError, errorMessage } from '../../errors.js';
import { writeFileAtomic } from '../../store/atomic.js';
import type { BalancerModel, RenderedFile } from '../model.js';
import { validateModel } from '../validate.js';
import { backendName, serverName } from '../names.js';
import { actualServers, desiredServers, planRuntime, type RuntimeStep } from './converge.js';
import { MasterCli, type ProcInfo } from './master.js';
import { HAPROXY_FILES, haproxyPaths, renderHaproxy } from './render.js';
import { filterServersState, HaproxyRuntime, type FreshOptions, type Target } from './runtime.js';
import { isAlive, signal, waitGone } from './pids.js';

export interface ManagedHaproxyOptions {
  /** The haproxy binary (default `haproxy` from PATH). */
  binary?: string;
  /** Wraps the long-running command, e.g. NetNamespace.wrap to run it inside a namespace. */
  wrap?: (file: string, args: string[]) => [string, string[]];
  /** How long start() waits for the stats socket (default 10 s). */
  readyTimeoutMs?: number;
  /** How long apply() waits for a reload to be confirmed (default 15 s). */
  reloadTimeoutMs?: number;
  /** Readmit settings for servers leaving MAINT (default: 30 s timeout, no minimum). */
  readmit?: FreshOptions;
  /** Called as soon as the HAProxy master this object started exits (stopped or died). */
  onExit?: (e: { pid: number; code: number | null; signal: string | null }) => void;
}

export interface ApplyResult {
  /** A reload happened (the config changed beyond admin states and weights). */
  reloaded: boolean;
  /** Runtime commands sent to make admin states and weights match the model. */
  steps: RuntimeStep[];
  /** Servers brought from MAINT to READY through the readmit sequence. */
  readmitted: Target[];
  /** Servers left in DRAIN because their checks did not pass in time. */
  held: Target[];
}

/**
 * The HAProxy the controller runs itself (`balancer.mode: managed`): a master-worker child whose
 * config is rendered from the model. Every change is checked with `haproxy -c` first; a reload
 * saves the server states first and is confirmed through the master CLI; admin states are then
 * set through the runtime API. The sequence and its reasons: docs/balancer.md ("Managed HAProxy").
 */
export class ManagedHaproxy {
  readonly paths: ReturnType<typeof haproxyPaths>;
  readonly runtime: HaproxyRuntime;
  readonly master: MasterCli;
  private readonly binary: string;
  private masterPid: number | undefined;
  private workerPids = new Set<number>();
  /** The model-rendered files on disk and their admin-free form (a change there needs a reload). */
  private loaded: { files: RenderedFile[]; structural: string } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly stateDir: string,
    private readonly opts: ManagedHaproxyOptions = {},
  ) {
    this.paths = haproxyPaths(stateDir);
    this.runtime = new HaproxyRuntime(this.paths.socket);
    this.master = new MasterCli(this.paths.masterSocket);
    this.binary = opts.binary ?? 'haproxy';
  }

  get pid(): number | undefined {
    return this.masterPid;
  }

  get running(): boolean {
    return this.masterPid !== undefined && isAlive(this.masterPid);
  }

  /**
   * Renders the model into stateDir, checks it, and starts HAProxy; resolves once its stats
   * socket answers and the admin states are applied. If an HAProxy master from an earlier run
   * still answers on this stateDir's master socket, it is adopted and the model applied to it.
   */
  start(model: BalancerModel): Promise<ApplyResult> {
    return this.serialized(async () => {
      this.checkModel(model);
      if (this.running) throw new BootfleetError('ERR_USAGE', `haproxy already runs for ${this.stateDir} (pid ${this.masterPid}); use apply()`);
      await this.requireBinary();
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
      const adopted = await this.adopt();
      if (adopted) return this.applyNow(model);
      const files = renderHaproxy(model);
      // A fresh start takes states from the model, not from an old run: an empty state file
      // (just the format version) also keeps `haproxy -c` free of warnings.
      await writeFileAtomic(this.paths.stateFile, '1\n');
      for (const f of files) await writeFileAtomic(this.pathOf(f), f.text);
      await this.check(this.paths.config);
      await this.spawn();
      await this.waitReady();
      this.loaded = { files, structural: structuralKey(model) };
      return { reloaded: false, ...(await this.converge(model)) };
    });
  }

  /**
   * Makes the running HAProxy serve `model`. Admin states and weights alone are changed through
   * the runtime API without a reload; anything else goes through check → save state → reload →
   * confirm. A candidate refused by `haproxy -c`, or a reload HAProxy reports as failed, throws
   * and leaves the previous configuration serving and on disk.
   */
  apply(model: BalancerModel): Promise<ApplyResult> {
    return this.serialized(() => this.applyNow(model));
  }

  /**
   * Installs `files` (a haproxy.cfg and sites.map, normally renderHaproxy's) as the candidate for
   * `model`, through the same check → reload sequence as apply(). For callers that must add to
   * the rendered text, and for tests of the refusal path.
   */
  applyFiles(model: BalancerModel, files: RenderedFile[]): Promise<ApplyResult> {
    return this.serialized(async () => {
      this.checkModel(model);
      this.requireRunning();
      await this.reload(files, new Set());
      this.loaded = { files, structural: `custom:${Date.now()}` };
      return { reloaded: true, ...(await this.converge(model)) };
    });
  }

  /**
   * Soft-stops HAProxy (SIGUSR1: finish current requests), then SIGTERM and SIGKILL after
   * `graceMs`; resolves once the master and every worker it had are gone.
   */
  async stop(graceMs = 5000): Promise<void> {
    const pid = this.masterPid;
    if (pid === undefined) return;
    const proc = await this.master.showProc().catch(() => undefined);
    for (const w of [...(proc?.workers ?? []), ...(proc?.oldWorkers ?? [])]) this.workerPids.add(w.pid);
    const all = [pid, ...this.workerPids];
    signal(pid, 'SIGUSR1');
    if (!(await waitGone(all, graceMs))) {
      signal(pid, 'SIGTERM');
      if (!(await waitGone(all, 2000))) for (const p of all) signal(p, 'SIGKILL');
    }
    if (!(await waitGone(all, 5000))) throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy processes ${all.filter(isAlive).join(' ')} did not exit`);
    live.delete(this);
    this.masterPid = undefined;
    this.workerPids.clear();
    this.loaded = undefined;
  }

  /** SIGKILL to the master and every worker we saw, by PID (the process-exit safety net). */
  killNow(): void {
    for (const p of [this.masterPid, ...this.workerPids]) if (p !== undefined) signal(p, 'SIGKILL');
  }

  /** Master, current and old worker PIDs (from `show proc`), for supervision and tests. */
  async pids(): Promise<number[]> {
    const proc = await this.master.showProc();
    return [proc.masterPid, ...proc.workers.map((w) => w.pid), ...proc.oldWorkers.map((w) => w.pid)];
  }

  private async applyNow(model: BalancerModel): Promise<ApplyResult> {
    this.checkModel(model);
    this.requireRunning();
    const files = renderHaproxy(model);
    const structural = structuralKey(model);
    if (this.loaded && structural === this.loaded.structural) {
      await this.writeIfChanged(files);
      return { reloaded: false, ...(await this.converge(model)) };
    }
    // Servers the running HAProxy does not have, or has at another address or port, start in
    // MAINT and enter service through the readmit sequence; their old state lines are dropped
    // (a state line's port wins over the config's, haproxy/haproxy#1412).
    const running = new Map((await this.runtime.serversState()).map((r) => [`${r.be_name}/${r.srv_name}`, `${r.srv_addr}:${r.srv_port}`]));
    const fresh = new Set<string>();
    for (const site of model.sites) {
      for (const s of site.servers) {
        const key = `${backendName(site.id)}/${serverName(s.node)}`;
        if (running.get(key) !== `${s.address}:${s.port}`) fresh.add(key);
      }
    }
    const candidate = renderHaproxy(model, { startInMaint: fresh });
    await this.reload(candidate, fresh);
    this.loaded = { files: candidate, structural };
    const result = await this.converge(model);
    await this.writeIfChanged(files);
    return { reloaded: true, ...result };
  }

  /** check → save server states → install → SIGUSR2 → confirm; restores the old files on failure. */
  private async reload(files: RenderedFile[], dropState: ReadonlySet<string>): Promise<void> {
    const cfg = files.find((f) => f.path === HAPROXY_FILES.config);
    const map = files.find((f) => f.path === HAPROXY_FILES.map);
    if (!cfg || !map) throw new BootfleetError('ERR_INTERNAL', 'haproxy candidate needs haproxy.cfg and sites.map');
    const previous = { cfg: await readFile(this.paths.config, 'utf8'), map: await readFile(this.paths.map, 'utf8') };
    const restore = async (): Promise<void> => {
      await writeFileAtomic(this.paths.map, previous.map);
      await writeFileAtomic(this.paths.config, previous.cfg);
    };
    // The running HAProxy reads the map only when it (re)loads, so the new map can sit in place
    // while the candidate config that names it is checked.
    const candidatePath = `${this.paths.config}.candidate`;
    await writeFileAtomic(this.paths.map, map.text);
    await writeFileAtomic(candidatePath, cfg.text);
    try {
      await this.check(candidatePath);
    } catch (err) {
      await restore();
      throw err;
    } finally {
      await rm(candidatePath, { force: true });
    }
    const state = await this.runtime.showServersState();
    await writeFileAtomic(this.paths.stateFile, filterServersState(state, (r) => dropState.has(`${r.be_name}/${r.srv_name}`)));
    await writeFileAtomic(this.paths.config, cfg.text);
    const before = await this.master.showProc();
    signal(this.masterPid ?? 0, 'SIGUSR2');
    try {
      await this.confirmReload(before);
    } catch (err) {
      await restore();
      throw err;
    }
  }

  /** Waits for `show proc` to count the reload, then for the new worker to own the stats socket. */
  private async confirmReload(before: ProcInfo): Promise<void> {
    const known = new Set([...before.workers, ...before.oldWorkers].map((w) => w.pid));
    const deadline = Date.now() + (this.opts.reloadTimeoutMs ?? 15_000);
    let last: ProcInfo | undefined;
    while (Date.now() < deadline) {
      await sleep(50);
      if (!this.running) throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy master ${this.masterPid} exited during the reload; ${this.paths.log}:\n${await this.logTail()}`);
      // The master re-executes itself on SIGUSR2; its socket refuses or resets meanwhile.
      last = await this.master.showProc().catch(() => undefined);
      if (!last || last.reloads <= before.reloads) continue;
      const fresh = last.workers.find((w) => !known.has(w.pid));
      if (fresh) {
        this.workerPids.add(fresh.pid);
        await this.waitWorker(fresh.pid, deadline);
        return;
      }
      if (last.failed > 0) {
        throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy could not load the new configuration and still serves the previous one (show proc: failed ${last.failed}); ${this.paths.log}:\n${await this.logTail()}`);
      }
    }
    throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy reload not confirmed within ${this.opts.reloadTimeoutMs ?? 15_000} ms (last show proc: ${JSON.stringify(last)}); its state is unknown`);
  }

  private async waitWorker(pid: number, deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      const info = await this.runtime.info().catch(() => undefined);
      if (info?.['Pid'] === String(pid)) return;
      await sleep(25);
    }
    throw new BootfleetError('ERR_COMMAND_FAILED', `new haproxy worker ${pid} did not take over ${this.paths.socket}`);
  }

  /** Sends the runtime commands that make admin states and weights match the model. */
  private async converge(model: BalancerModel): Promise<Omit<ApplyResult, 'reloaded'>> {
    const [state, stat] = await Promise.all([this.runtime.serversState(), this.runtime.showStat()]);
    const steps = planRuntime(desiredServers(model), actualServers(state, stat));
    const readmits: Target[] = [];
    for (const s of steps) {
      if (s.op === 'weight') await this.runtime.setWeight(s.backend, s.server, s.weight);
      else if (s.op === 'readmit') readmits.push({ backend: s.backend, server: s.server });
      else await this.runtime.setServerState(s.backend, s.server, s.op);
    }
    const { readmitted, held } = readmits.length > 0 ? await this.runtime.readmit(readmits, this.opts.readmit) : { readmitted: [], held: [] };
    return { steps, readmitted, held };
  }

  private async spawn(): Promise<void> {
    const args = ['-W', '-S', `${this.paths.masterSocket},mode,600`, '-f', this.paths.config, '-p', this.paths.pidFile];
    const [file, argv] = this.opts.wrap ? this.opts.wrap(this.binary, args) : [this.binary, args];
    const log = openSync(this.paths.log, 'a', 0o600);
    try {
      // Not detached: it is our child. Its output goes to a file, not a pipe, so it never
      // blocks on us.
      const child = spawn(file, argv, { stdio: ['ignore', log, log] });
      if (child.pid === undefined) throw new BootfleetError('ERR_COMMAND_FAILED', `could not start ${file}`);
      child.on('error', () => undefined);
      const pid = child.pid;
      child.once('exit', (code, sig) => this.opts.onExit?.({ pid, code, signal: sig }));
      this.masterPid = child.pid;
      live.add(this);
    } finally {
      closeSync(log);
    }
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (!this.running) break;
      const info = await this.runtime.info().catch(() => undefined);
      if (info?.['Pid']) {
        this.workerPids.add(Number(info['Pid']));
        return;
      }
      await sleep(50);
    }
    const why = this.running ? `its stats socket did not answer within ${this.opts.readyTimeoutMs ?? 10_000} ms` : 'it exited';
    await this.stop(0).catch(() => undefined);
    throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy did not start: ${why}; ${this.paths.log}:\n${await this.logTail()}`);
  }

  /** Takes over a master left by an earlier controller run, if one answers on our master socket. */
  private async adopt(): Promise<boolean> {
    const proc = await this.master.showProc().catch(() => undefined);
    if (!proc) return false;
    const pidFile = Number((await readFile(this.paths.pidFile, 'utf8').catch(() => '')).trim());
    // Only a master whose pid file agrees is ours to signal and, later, to kill.
    if (pidFile !== proc.masterPid || !isAlive(proc.masterPid)) return false;
    this.masterPid = proc.masterPid;
    for (const w of proc.workers) this.workerPids.add(w.pid);
    live.add(this);
    return true;
  }

  private async check(file: string): Promise<void> {
    const r = await execa(this.binary, ['-c', '-f', file], { reject: false, all: true });
    if (r.exitCode !== 0) {
      throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy -c refused ${file}; the running configuration is unchanged:\n${String(r.all ?? '').trim()}`);
    }
  }

  private async requireBinary(): Promise<void> {
    const r = await execa(this.binary, ['-v'], { reject: false });
    if (r.exitCode !== 0) {
      const why = (r as { code?: string }).code === 'ENOENT' ? 'not found' : errorMessage(r.stderr || r.message);
      throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy binary "${this.binary}" ${why}: install HAProxy 2.6 (apt-get install haproxy) or set its path`);
    }
  }

  private async writeIfChanged(files: RenderedFile[]): Promise<void> {
    for (const f of files) {
      const before = this.loaded?.files.find((x) => x.path === f.path);
      if (before?.text !== f.text) await writeFileAtomic(this.pathOf(f), f.text);
    }
    if (this.loaded) this.loaded = { ...this.loaded, files };
  }

  private checkModel(model: BalancerModel): void {
    validateModel(model);
    if (model.paths.stateDir.replace(/\/+$/, '') !== this.stateDir.replace(/\/+$/, '')) {
      throw new BootfleetError('ERR_USAGE', `model.paths.stateDir ${model.paths.stateDir} differs from this HAProxy's ${this.stateDir}`);
    }
  }

  private requireRunning(): void {
    if (!this.running) throw new BootfleetError('ERR_USAGE', `haproxy for ${this.stateDir} is not running; call start() first`);
  }

  private pathOf(f: RenderedFile): string {
    return `${this.stateDir.replace(/\/+$/, '')}/${f.path}`;
  }

  private async logTail(lines = 20): Promise<string> {
    const text = await readFile(this.paths.log, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** The config with admin states and weights taken out: equal keys mean no reload is needed. */
export function structuralKey(model: BalancerModel): string {
  const plain: BalancerModel = {
    ...model,
    generation: 0,
    sites: model.sites.map((s) => ({ ...s, servers: s.servers.map((x) => ({ ...x, admin: 'ready' as const, weight: 1 })) })),
  };
  return renderHaproxy(plain).map((f) => f.text).join('\0');
}

const live = new Set<ManagedHaproxy>();

// Never leave an HAProxy behind when this process exits (synchronous: 'exit' runs no async work).
process.once('exit', () => {
  for (const h of live) h.killNow();
});
