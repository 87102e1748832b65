import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { NodeRegistry } from '../cluster/nodes.js';
import type { ClusterStore } from '../cluster/store.js';
import type { MachineSpec } from '../boot/policy.js';
import type { NodeRecord } from '../cluster/nodes.js';
import { DEFAULT_NODE_SETTINGS } from '../cluster/model.js';
import { nodeState } from '../cluster/node-state.js';
import { reconcile, type NodeFacts } from '../cluster/reconcile.js';
import type { ScalePolicy } from '../cluster/placement.js';
import { balancerModel } from '../cluster/balancer-model.js';
import type { BalancerService } from './balancer-service.js';
import type { BalancerListen } from '../balancer/model.js';
import type { Leadership } from '../store/leadership.js';

export interface ClusterLoopOptions {
  cluster: ClusterStore;
  nodes: NodeRegistry;
  spec: (node: NodeRecord) => MachineSpec;
  balancer?: BalancerService;
  balancerListen: BalancerListen[];
  downAfterMs: number;
  epsilon: number;
  scale: ScalePolicy;
  log: Logger;
  /** Only the leader reconciles and applies the balancer (several controllers on etcd; docs/scale-out.md). */
  leadership?: Leadership;
  /** How often the loop runs without being kicked (ms). */
  intervalMs?: number;
}

/**
 * The controller's reconciler: about once a second (and at once when the cluster state changes
 * or a node's heartbeat makes it ready) it reads the nodes' states and the balancer's counters,
 * runs the pure reconcile step (src/cluster/reconcile.ts: overload help, placement, hand-overs),
 * writes the result when it changed (a new generation: nodes pick it up through their manifests)
 * and brings the balancer in line with it. With several controllers on one etcd only the leader
 * runs it (`leadership`); the others serve boots and manifests from the state it writes.
 */
export class ClusterLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private unfollowLeadership: (() => void) | undefined;
  /** When this controller started, or last became the leader: heartbeats before it count as sent then. */
  private leadingSince = Date.now();

  constructor(private readonly o: ClusterLoopOptions) {}

  start(): void {
    this.unsubscribe = this.o.cluster.onChange(() => this.kick());
    // A new leader reconciles at once rather than at the next tick.
    this.unfollowLeadership = this.o.leadership?.onChange((leading) => {
      if (leading) this.leadingSince = Date.now();
      this.kick();
    });
    this.timer = setInterval(() => this.kick(), this.o.intervalMs ?? 1000);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    this.unfollowLeadership?.();
    await this.running;
  }

  /** Runs a step now (or right after the one in progress). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.step()
      .catch((err: unknown) => this.o.log.error({ err: errorMessage(err) }, 'reconcile step failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** The facts the reconciler decides from, per node. */
  facts(now = Date.now()): NodeFacts[] {
    const state = this.o.cluster.current;
    return this.o.nodes.list().map((n) => {
      const settings = state.nodes[n.mac] ?? DEFAULT_NODE_SETTINGS;
      return {
        mac: n.mac,
        state: nodeState(settings, this.sinceStart(n), now, this.o.downAfterMs),
        admitted: this.o.spec(n).admission === 'admitted',
        weight: settings.weight,
        serving: n.heartbeat?.sites ?? [],
      };
    });
  }

  /**
   * A heartbeat older than this run of the controller (or its leadership) counts as sent at its
   * start: nodes could not reach a controller that was not running (a restart, or a kill and
   * start, or a leader's death), and moving every site off every node for that would empty the
   * balancer.
   */
  private sinceStart(n: NodeRecord): NodeRecord {
    if (!n.heartbeat || Date.parse(n.heartbeat.at) >= this.leadingSince) return n;
    return { ...n, heartbeat: { ...n.heartbeat, at: new Date(this.leadingSince).toISOString() } };
  }

  private async step(): Promise<void> {
    const balancer = this.o.balancer;
    await balancer?.poll();
    // Checked before each step: a controller that lost the lease stops changing placement at once.
    if (!this.o.leadership || this.o.leadership.isLeader()) await this.place(balancer);
    // Every controller renders its own HAProxy from the placement, leader or not: two balancers
    // behind one virtual address stay the same (docs/balancer.md "Balancer pair (VRRP)").
    if (balancer) {
      const model = balancerModel(this.o.cluster.current, (mac) => this.o.nodes.get(mac)?.ip, { listen: this.o.balancerListen, stateDir: balancer.dir });
      await balancer.update(model);
    }
  }

  /** One reconcile: placement, hand-overs, overload help (src/cluster/reconcile.ts). */
  private async place(balancer: BalancerService | undefined): Promise<void> {
    const facts = this.facts();
    let moves = 0;
    await this.o.cluster.change((s) => {
      const r = reconcile({
        state: s, nodes: facts, rates: balancer?.rates() ?? {}, now: Date.now(), epsilon: this.o.epsilon, scale: this.o.scale,
        healthy: (site, node) => balancer?.healthy(site, node), checked: balancer?.checks ?? false,
      });
      moves = r.placement.moves.length;
      s.placement = r.next.placement;
      s.retiring = r.next.retiring;
      s.sites = r.next.sites;
    });
    if (moves > 0) this.o.log.info({ moves, generation: this.o.cluster.current.generation }, 'sites placed');
  }
}
