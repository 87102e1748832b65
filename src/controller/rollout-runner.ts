import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { execa } from 'execa';
import type { Logger } from '../log.js';
import { BootfleetError, errorMessage } from '../errors.js';
import type { StateStore } from '../store/state.js';
import type { ClusterStore } from '../cluster/store.js';
import type { Leadership } from '../store/leadership.js';
import type { NodeRecord, NodeRegistry } from '../cluster/nodes.js';
import type { NodeFacts } from '../cluster/reconcile.js';
import type { MachineSpec } from '../boot/policy.js';
import { DEFAULT_NODE_SETTINGS } from '../cluster/model.js';
import { isFresh, type StatRow } from '../balancer/haproxy/runtime.js';
import { planRollout, type RolloutRequest } from '../rollout/plan.js';
import { step } from '../rollout/step.js';
import { applyRollout } from '../rollout/desired.js';
import { powerCommand, powerOf, type PowerConfig } from '../rollout/power.js';
import { inFlight, rolloutActive, type Rollout } from '../rollout/types.js';
import type { NodeNow, ServerView, World } from '../rollout/world.js';
import type { BalancerService } from './balancer-service.js';
import type { ImageCatalog } from './images.js';

const KEY = 'rollout';

export interface RolloutRunnerOptions {
  store: StateStore;
  cluster: ClusterStore;
  nodes: NodeRegistry;
  balancer: BalancerService | undefined;
  images: ImageCatalog;
  spec: (node: NodeRecord) => MachineSpec;
  /** The reconciler's view of every node (ready, admitted): ClusterLoop.facts. */
  facts: () => NodeFacts[];
  power: PowerConfig;
  log: Logger;
  intervalMs?: number;
  /** Told of every persisted change (the metrics' per-phase gauge). */
  onChange?: (r: Rollout) => void;
  /** Only the leading controller steps the rollout (store.kind etcd: docs/scale-out.md); without it, always. */
  leadership?: Leadership;
}

/**
 * Runs the rollout (docs/rollout.md): about once a second it gathers what the controller knows
 * (heartbeats, boot events, HAProxy's view of each node's servers), runs the pure step
 * (src/rollout/step.ts), persists the rollout when it changed, makes the cluster state say what
 * the phases ask (src/rollout/desired.ts: holds, image assignments, reboot tokens, surge) and
 * runs ssh/command power drivers. The order is what makes a controller killed at any point
 * resume without a second reboot: persist first, then the idempotent cluster edits, then the
 * power command (at most once).
 */
export class RolloutRunner {
  private rollout: Rollout | undefined;
  /** The store's revision of `rollout`: writes are compare-and-swap against it. */
  private revision = 0;
  /** The store may hold a newer rollout than `rollout` (its watch fired since the last read). */
  private stale = true;
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private ticking = false;
  /** The cluster state was brought in line with the finished rollout once (holds and surge cleared). */
  private settledFinal = false;

  private constructor(private readonly o: RolloutRunnerOptions) {}

  static async open(o: RolloutRunnerOptions): Promise<RolloutRunner> {
    const runner = new RolloutRunner(o);
    await runner.reload();
    if (runner.rollout) o.onChange?.(runner.rollout);
    if (rolloutActive(runner.rollout)) o.log.info({ id: runner.rollout?.id, status: runner.rollout?.status }, 'rollout resumed from the state store');
    return runner;
  }

  start(): void {
    // Written by any controller (or by this one): read again before the next step.
    this.unwatch = this.o.store.watch(KEY, () => {
      this.stale = true;
      this.kick();
    });
    this.timer = setInterval(() => this.kick(), this.o.intervalMs ?? 1000);
    this.kick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unwatch?.();
    await this.queue.catch(() => undefined);
  }

  /** The current or last rollout. */
  current(): Rollout | undefined {
    return this.rollout;
  }

  /** Checks the request (nothing is touched if it is refused) and starts the rollout. */
  begin(req: RolloutRequest): Promise<Rollout> {
    return this.serialized(async () => {
      await this.reload(true);
      const state = this.o.cluster.current;
      const ready = new Map(this.o.facts().map((f) => [f.mac, f.admitted && f.state === 'ready']));
      const nodes = this.o.nodes.list().filter((n) => this.o.spec(n).admission === 'admitted').map((n) => {
        const spec = this.o.spec(n);
        const labels = (state.nodes[n.mac] ?? DEFAULT_NODE_SETTINGS).labels;
        const running = n.heartbeat?.image || n.image || (spec.image ? `${spec.image.name}@${spec.image.version}` : '');
        return { mac: n.mac, hostname: spec.hostname, arch: spec.arch, labels, ready: ready.get(n.mac) ?? false, running, power: powerOf(labels, this.o.power) };
      });
      const rollout = planRollout(req, {
        nodes, state, ...(this.rollout ? { current: this.rollout } : {}),
        findImage: (ref, arch) => this.o.images.find(ref, arch),
        imageExists: (ref) => this.imageExists(ref),
        now: new Date(),
        id: randomBytes(4).toString('hex'),
      });
      await this.persist(rollout);
      this.settledFinal = false;
      this.o.log.info({ id: rollout.id, image: rollout.image, nodes: rollout.nodes.map((n) => `${n.hostname}:${n.from}→${n.to}`), options: rollout.options }, 'rollout started');
      this.kick();
      return rollout;
    });
  }

  pause(): Promise<Rollout> {
    return this.control('pause', (r) => r.status === 'running', (r) => ({ ...r, status: 'paused' }));
  }

  resume(): Promise<Rollout> {
    return this.control('resume', (r) => r.status === 'paused', (r) => ({ ...r, status: 'running' }));
  }

  /** No node is started any more; nodes not yet rebooted are released; a node already rebooting completes. */
  abort(): Promise<Rollout> {
    return this.control('abort', (r) => r.finishedAt === undefined && r.status !== 'aborted', (r) => ({ ...r, status: 'aborted', reason: 'aborted by the operator' }));
  }

  /** Runs a step now (or right after the one in progress). */
  kick(): void {
    if (this.ticking) return;
    this.ticking = true;
    void this.serialized(() => this.tick())
      .catch((err: unknown) => this.o.log.error({ err: errorMessage(err) }, 'rollout step failed'))
      .finally(() => {
        this.ticking = false;
      });
  }

  private control(verb: string, allowed: (r: Rollout) => boolean, change: (r: Rollout) => Rollout): Promise<Rollout> {
    return this.serialized(async () => {
      await this.reload(true);
      const r = this.rollout;
      if (!r) throw new BootfleetError('ERR_NOT_FOUND', `no rollout to ${verb}: start one with bootfleet rollout start --image <name>@<version>`);
      if (!allowed(r)) throw new BootfleetError('ERR_CONFLICT', `rollout ${r.id} is ${r.finishedAt ? `finished (${r.status})` : r.status}: nothing to ${verb}`);
      const next = change(r);
      await this.persist(next);
      this.o.log.info({ id: r.id, status: next.status }, `rollout ${verb}`);
      this.kick();
      return next;
    });
  }

  /**
   * Reads the rollout as the store has it. With several controllers (etcd) another one may have
   * stepped it or an operator may have paused it through another controller since this one last
   * looked; a leader that took over resumes from exactly what the last leader persisted. Steps
   * read only after the store's watch said the key changed; an operator's request (`force`)
   * always reads, so it never acts on a write the watch has not delivered yet.
   */
  private async reload(force = false): Promise<void> {
    if (!force && !this.stale) return;
    // Cleared before the read: a write the watch reports meanwhile makes the next step read again.
    this.stale = false;
    const found = await this.o.store.get<Rollout>(KEY);
    if (found && found.revision !== this.revision) {
      if (found.value.id !== this.rollout?.id || found.value.finishedAt === undefined) this.settledFinal = false;
      this.rollout = found.value;
      this.o.onChange?.(found.value);
    }
    this.revision = found?.revision ?? 0;
  }

  private async tick(): Promise<void> {
    await this.reload();
    // Checked at every step: a controller that lost the lease stops rebooting nodes at once.
    if (this.o.leadership && !this.o.leadership.isLeader()) return;
    const r = this.rollout;
    if (!r || (r.finishedAt !== undefined && this.settledFinal)) return;
    const { rollout, power } = step(r, await this.world(r));
    if (!isDeepStrictEqual(rollout, r)) {
      await this.persist(rollout);
      this.logChanges(r, rollout);
    }
    await this.o.cluster.change((s) => applyRollout(s, rollout));
    for (const mac of power) await this.runPower(mac);
    if (rollout.finishedAt !== undefined) this.settledFinal = true;
  }

  /** Everything the step decides from, read now. */
  private async world(r: Rollout): Promise<World> {
    const state = this.o.cluster.current;
    const facts = this.o.facts();
    const ready = new Map(facts.map((f) => [f.mac, f.admitted && f.state === 'ready']));
    const balancer = this.o.balancer;
    const managed = balancer?.runtime()?.running ?? false;
    const servers = new Map<string, ServerView[]>();
    for (const n of r.nodes.filter(inFlight)) {
      const rows = managed && balancer ? await balancer.nodeServers(n.mac).catch(() => []) : [];
      servers.set(n.mac, rows.map(serverView));
    }
    const nodeNow = (mac: string): NodeNow | undefined => {
      const rec = this.o.nodes.get(mac);
      if (!rec) return undefined;
      const hb = rec.heartbeat;
      return {
        ready: ready.get(mac) ?? false,
        ...(hb ? { heartbeat: { at: Date.parse(hb.at), image: hb.image, bootToken: hb.bootToken, sites: hb.sites } } : {}),
        events: rec.events.map((e) => ({ stage: e.stage, at: Date.parse(e.at) })),
        servers: servers.get(mac) ?? [],
      };
    };
    return {
      now: Date.now(), state, node: nodeNow,
      macs: facts.filter((f) => f.admitted).map((f) => f.mac),
      healthy: (site, mac) => balancer?.healthy(site, mac),
      balancer: managed,
      settled: settled(state),
      token: () => randomBytes(8).toString('hex'),
    };
  }

  /** Runs a node's ssh/command driver; a failure is recorded on the node (the next step rolls it back). */
  private async runPower(mac: string): Promise<void> {
    const n = this.rollout?.nodes.find((x) => x.mac === mac);
    if (!n || n.power === 'agent') return;
    let failure: string | undefined;
    try {
      const cmd = powerCommand(n.power, { mac, ip: this.o.nodes.get(mac)?.ip, hostname: n.hostname }, this.o.power);
      this.o.log.info({ mac, driver: n.power, command: [cmd.file, ...cmd.args].join(' ') }, 'rebooting node');
      const r = await execa(cmd.file, cmd.args, { env: { ...process.env, ...cmd.env }, timeout: 60_000, reject: false, all: true });
      // ssh exits 255 when the node closes the connection as it goes down: the reboot was asked.
      const dropped = n.power === 'ssh' && r.exitCode === 255 && /closed by remote host|connection .* closed/i.test(String(r.all ?? ''));
      if (r.exitCode !== 0 && !dropped) failure = `${[cmd.file, ...cmd.args].join(' ')} exited ${r.exitCode ?? r.signal ?? 'early'}: ${String(r.all ?? '').trim().slice(-200)}`;
    } catch (err) {
      failure = errorMessage(err);
    }
    if (failure === undefined || !this.rollout) return;
    this.o.log.error({ mac, driver: n.power, err: failure }, 'power driver failed');
    await this.persist({ ...this.rollout, nodes: this.rollout.nodes.map((x) => (x.mac === mac ? { ...x, powerError: failure } : x)) });
  }

  /** Compare-and-swap against the revision last read: a write another controller made in between wins, and this one reads again. */
  private async persist(r: Rollout): Promise<void> {
    this.revision = await this.o.store.put(KEY, r, this.revision);
    this.rollout = r;
    this.o.onChange?.(r);
  }

  private logChanges(before: Rollout, after: Rollout): void {
    for (const n of after.nodes) {
      const was = before.nodes.find((x) => x.mac === n.mac);
      if (was?.phase !== n.phase || was.stage !== n.stage) this.o.log.info({ id: after.id, mac: n.mac, hostname: n.hostname, phase: n.phase, ...(n.stage ? { stage: n.stage } : {}), detail: n.detail }, 'rollout node');
    }
    if (before.status !== after.status || before.finishedAt !== after.finishedAt) this.o.log.info({ id: after.id, status: after.status, reason: after.reason, finished: after.finishedAt !== undefined }, 'rollout status');
  }

  private imageExists(ref: string): boolean {
    const [name, version] = ref.split('@');
    return this.o.images.all().some((i) => i.manifest.name === name && (version === undefined || i.id === version || i.manifest.version === version));
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** HAProxy's row for one of a node's servers, as the step reads it. */
export function serverView(row: StatRow): ServerView {
  const n = (k: string): number => Number(row[k] || 0);
  return {
    site: (row.pxname ?? '').replace(/^be_site_/, ''),
    status: row.status ?? '',
    fresh: isFresh(row),
    check: [row.check_status, row.check_code, row.check_desc].filter((x) => x !== undefined && x !== '').join(' '),
    errors: n('hrsp_5xx') + n('econ') + n('eresp'),
    sessions: n('scur') + n('qcur'),
  };
}

/** No hand-over in progress and no site placed on more nodes than it asks for: the reconciler is done. */
export function settled(state: { retiring: Record<string, string[]>; placement: Record<string, string[]>; sites: Record<string, { replicas: number; content?: unknown }>; surge: Record<string, number> }): boolean {
  if (Object.values(state.retiring).some((macs) => macs.length > 0)) return false;
  return Object.entries(state.sites).every(([name, s]) => s.content === undefined || (state.placement[name] ?? []).length <= s.replicas + (state.surge[name] ?? 0));
}
