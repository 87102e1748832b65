import { mkdir } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { BalancerConfig } from '../config.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import { renderBalancer, type BalancerKind, type BalancerModel, type RenderedFile } from '../balancer/model.js';
import { ManagedHaproxy } from '../balancer/haproxy/process.js';
import type { StatRow } from '../balancer/haproxy/runtime.js';
import { serverName } from '../balancer/names.js';
import { ManagedKeepalived } from '../balancer/keepalived/process.js';
import { renderVrrp, VRRP_FILES } from '../balancer/keepalived/vrrp.js';
import { BalancerHistory, type Counters, type HistoryView } from './balancer-history.js';

/** What the balancer sees of one site. */
export interface SiteStats {
  /** Requests per second, averaged over the last few polls. */
  rate: number;
  servers: Array<{ node: string; status: string }>;
}

/** How long to wait before trying again to readmit a server whose checks did not pass in time. */
const HELD_RETRY_MS = 5000;

/** How many polls the request rate is averaged over (polls are ~1 s apart). */
const RATE_WINDOW = 5;

export interface BalancerServiceOptions {
  /** Wraps the long-running HAProxy and keepalived commands (the lab runs them in a namespace). */
  wrap?: (file: string, args: string[]) => [string, string[]];
  /** This controller's name (keepalived's router_id); default the host name. */
  name?: string;
}

/**
 * The controller's balancer (`balancer:` in the config): in managed mode it runs HAProxy and keeps
 * it serving the latest model (src/balancer/haproxy/process.ts: checked, state-preserving
 * reloads); in render-only mode it writes the rendered config into its folder for a balancer run
 * elsewhere. It also reads HAProxy's counters back: request rates per site (overload help) and
 * each server's check status (hand-overs). With `balancer.vip` it also runs keepalived, which keeps
 * the virtual address on one controller of the pair whose HAProxy runs (docs/balancer.md
 * "Balancer pair (VRRP)").
 */
export class BalancerService {
  private haproxy: ManagedHaproxy | undefined;
  private keepalived: ManagedKeepalived | undefined;
  /** What the track_file last said (src/balancer/keepalived/vrrp.ts). */
  private haproxyMark: string | undefined;
  private applied = '';
  private applying: Promise<void> | undefined;
  private pending: BalancerModel | undefined;
  private stats = new Map<string, SiteStats>();
  private samples: Array<{ at: number; totals: Map<string, number> }> = [];
  private nodesByServer = new Map<string, string>();
  private readonly history = new BalancerHistory();
  /** When to try again to readmit servers the last apply held in DRAIN (undefined: none held). */
  private retryHeldAt: number | undefined;

  constructor(
    private readonly config: BalancerConfig,
    readonly dir: string,
    private readonly log: Logger,
    private readonly opts: BalancerServiceOptions = {},
  ) {}

  get kind(): BalancerKind {
    return this.config.kind;
  }

  /** Renders `kind` from a model (GET /api/balancer/:kind). */
  render(kind: BalancerKind, model: BalancerModel): RenderedFile[] {
    return renderBalancer(kind, model);
  }

  /** Makes the balancer serve `model`; repeated calls while one runs collapse into the latest. */
  update(model: BalancerModel): Promise<void> {
    const key = JSON.stringify({ ...model, generation: 0 });
    const retryHeld = this.retryHeldAt !== undefined && Date.now() >= this.retryHeldAt;
    // A managed HAProxy that died is started again by the next update, whatever the model.
    const dead = this.haproxy !== undefined && !this.haproxy.running;
    if (key === this.applied && !this.applying && !retryHeld && !dead) return Promise.resolve();
    this.pending = model;
    this.applying ??= this.drain().finally(() => {
      this.applying = undefined;
    });
    return this.applying;
  }

  /** Reads HAProxy's counters (managed mode); call about once a second. */
  async poll(): Promise<void> {
    if (!this.haproxy?.running) return;
    let rows: StatRow[];
    try {
      rows = await this.haproxy.runtime.showStat();
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'balancer stats unavailable');
      return;
    }
    const now = Date.now();
    const totals = new Map<string, number>();
    const servers = new Map<string, Array<{ node: string; status: string }>>();
    const siteCounters = new Map<string, Counters>();
    const nodeCounters = new Map<string, Counters>();
    for (const r of rows) {
      if (!r.pxname?.startsWith('be_site_')) continue;
      const site = r.pxname.slice('be_site_'.length);
      if (r.svname === 'BACKEND') {
        totals.set(site, Number(r.req_tot || r.stot || 0));
        siteCounters.set(site, counters(r));
      } else if (r.svname) {
        const node = this.nodesByServer.get(r.svname);
        if (node) {
          servers.set(site, [...(servers.get(site) ?? []), { node, status: r.status ?? '' }]);
          const sum = nodeCounters.get(node) ?? { requests: 0, errors: 0 };
          const c = counters(r);
          nodeCounters.set(node, { requests: sum.requests + c.requests, errors: sum.errors + c.errors });
        }
      }
    }
    this.history.add(now, siteCounters, nodeCounters);
    this.samples = [...this.samples, { at: now, totals }].slice(-RATE_WINDOW);
    const first = this.samples[0];
    const next = new Map<string, SiteStats>();
    for (const [site, total] of totals) {
      const seconds = first ? (now - first.at) / 1000 : 0;
      const rate = first && seconds > 0 ? Math.max(0, total - (first.totals.get(site) ?? total)) / seconds : 0;
      next.set(site, { rate, servers: servers.get(site) ?? [] });
    }
    this.stats = next;
  }

  /** Request and error rates per site and per node over the last minutes (the web UI's graphs). */
  rateHistory(): HistoryView {
    return this.history.view();
  }

  /** Every site the balancer saw, with its figures (/metrics). */
  allSiteStats(): Array<SiteStats & { site: string }> {
    return [...this.stats].map(([site, s]) => ({ site, ...s }));
  }

  siteStats(site: string): SiteStats | undefined {
    return this.stats.get(site);
  }

  /** The managed HAProxy runs and checks every site on every node (hand-overs wait for its checks). */
  get checks(): boolean {
    return this.haproxy?.running ?? false;
  }

  /** true: the balancer's check passes for the site on that node; false: it fails; undefined: not known (yet). */
  healthy(site: string, node: string): boolean | undefined {
    const status = this.stats.get(site)?.servers.find((s) => s.node === node)?.status;
    if (status === undefined || status.startsWith('MAINT') || status === 'no check') return undefined;
    if (status.startsWith('UP') || status.startsWith('DRAIN') || status === 'NOLB') return !status.includes('/');
    if (status.startsWith('DOWN')) return false;
    return undefined;
  }

  /** The rates of every site the balancer saw (overload help). */
  rates(): Record<string, number> {
    return Object.fromEntries([...this.stats].map(([site, s]) => [site, s.rate]));
  }

  /**
   * What HAProxy shows now for every server of one node (one per site it serves): status, check,
   * sessions and error counters, read fresh from `show stat` (rollouts). Empty without a managed
   * HAProxy.
   */
  async nodeServers(node: string): Promise<StatRow[]> {
    if (!this.haproxy?.running) return [];
    const name = serverName(node);
    return (await this.haproxy.runtime.showStat()).filter((r) => r.svname === name && r.pxname?.startsWith('be_site_'));
  }

  /** The managed HAProxy, for runtime calls (drain, sessions) of rollouts; undefined when none runs. */
  runtime(): ManagedHaproxy | undefined {
    return this.haproxy;
  }

  /** The managed keepalived (balancer.vip), for tests and status; undefined when none runs. */
  vrrp(): ManagedKeepalived | undefined {
    return this.keepalived;
  }

  async stop(): Promise<void> {
    await this.applying?.catch(() => undefined);
    // keepalived first: it gives the address up with a priority-0 advert, so the peer takes it
    // while this HAProxy still answers what reached it.
    await this.keepalived?.stop();
    this.keepalived = undefined;
    await this.haproxy?.stop();
    this.haproxy = undefined;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const model = this.pending;
      this.pending = undefined;
      try {
        const settled = await this.apply(model);
        this.applied = JSON.stringify({ ...model, generation: 0 });
        // A server held back (its readmit check did not pass in time, e.g. a node still unpacking
        // the site) stays in DRAIN: an update of the same model (the cluster loop sends one every
        // second) tries to readmit it again after a pause, instead of never.
        this.retryHeldAt = settled ? undefined : Date.now() + HELD_RETRY_MS;
      } catch (err) {
        // The previous configuration keeps serving (a refused candidate changes nothing).
        this.log.error({ err: errorMessage(err), generation: model.generation }, 'balancer update failed');
      }
    }
  }

  /**
   * Starts keepalived for balancer.vip once HAProxy runs (so the address never arrives before a
   * frontend answers on it); a no-op without a vip or when it already runs.
   */
  private async startVrrp(haproxy: ManagedHaproxy): Promise<void> {
    const vip = this.config.vip;
    if (!vip) return;
    await this.markHaproxy(haproxy.running);
    if (this.keepalived) return;
    const dir = join(this.dir, 'vrrp');
    const keepalived = new ManagedKeepalived(dir, {
      binary: vip.binary,
      ...(this.opts.wrap ? { wrap: this.opts.wrap } : {}),
      onEvent: (e) => (e.event === 'restarted' ? this.log.info(e, 'keepalived restarted') : this.log.warn(e, `keepalived ${e.event}`)),
    });
    await keepalived.start(renderVrrp({
      address: vip.address, interface: vip.interface, routerId: vip.routerId, priority: vip.priority, dir,
      haproxy: { binary: this.config.binary, pidFile: haproxy.paths.pidFile },
      scriptUser: userInfo().username, name: this.opts.name ?? hostname(),
    }));
    this.keepalived = keepalived;
    this.log.info({ pid: keepalived.pid, vip: vip.address, interface: vip.interface, routerId: vip.routerId }, 'keepalived started');
  }

  /**
   * The HAProxy child exited: with a vip, tell keepalived at once (its track_file), so the address
   * moves to the peer now rather than after the next failed checks.
   */
  private haproxyExited(e: { pid: number; code: number | null; signal: string | null }): void {
    // An HAProxy replaced since (a restart) is no news.
    if (!this.config.vip || e.pid !== this.haproxy?.pid) return;
    this.log.warn(e, 'haproxy exited; giving up the virtual address');
    this.markHaproxy(false).catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'could not tell keepalived that haproxy exited'));
  }

  /** keepalived's track_file: 1 while this controller's HAProxy is down (written on change only). */
  private async markHaproxy(running: boolean): Promise<void> {
    const text = running ? '0\n' : '1\n';
    if (this.haproxyMark === text) return;
    this.haproxyMark = text;
    await writeFileAtomic(join(this.dir, 'vrrp', VRRP_FILES.down), text);
  }

  /** Brings the balancer to `model`; false when a server is still held out of service. */
  private async apply(model: BalancerModel): Promise<boolean> {
    for (const site of model.sites) for (const s of site.servers) this.nodesByServer.set(serverName(s.node), s.node);
    if (this.config.mode === 'render-only') {
      await mkdir(this.dir, { recursive: true });
      for (const f of renderBalancer(this.config.kind, model)) await writeFileAtomic(join(this.dir, f.path), f.text);
      this.log.info({ generation: model.generation, dir: this.dir }, 'balancer config written');
      return true;
    }
    if (this.haproxy && !this.haproxy.running) {
      this.log.warn({ pid: this.haproxy.pid }, 'haproxy is not running; starting it again');
      await this.haproxy.stop(0).catch(() => undefined);
      this.haproxy = undefined;
    }
    if (!this.haproxy) {
      this.haproxy = new ManagedHaproxy(this.dir, {
        binary: this.config.binary, readmit: { timeoutMs: 3000 },
        ...(this.opts.wrap ? { wrap: this.opts.wrap } : {}),
        onExit: (e) => this.haproxyExited(e),
      });
      await this.haproxy.start(model);
      this.log.info({ pid: this.haproxy.pid, listen: model.listen }, 'haproxy started');
      await this.startVrrp(this.haproxy);
      return true;
    }
    // A keepalived that could not start last time is tried again with every update.
    await this.startVrrp(this.haproxy);
    const r = await this.haproxy.apply(model);
    this.log.info({ generation: model.generation, reloaded: r.reloaded, steps: r.steps.length, held: r.held.map((h) => `${h.backend}/${h.server}`) }, 'balancer updated');
    return r.held.length === 0;
  }
}

/**
 * One `show stat` row's requests and errors (HAProxy management guide, "show stat" fields):
 * HTTP requests (`req_tot`; sessions, `stot`, where a row has no request count), and as errors
 * 5xx responses (`hrsp_5xx`), failed connections to a server (`econ`) and failed or aborted
 * responses (`eresp`). One failed request can count in two of these (an `eresp` HAProxy answers
 * with a 502): the figure is for spotting trouble, not for billing.
 */
function counters(r: StatRow): Counters {
  const n = (field: string): number => Number(r[field] || 0) || 0;
  return { requests: n('req_tot') || n('stot'), errors: n('hrsp_5xx') + n('econ') + n('eresp') };
}
