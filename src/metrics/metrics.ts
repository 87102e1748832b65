import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DhcpEventType, DhcpStats } from '../dhcp/types.js';
import type { TftpStats } from '../tftp/types.js';
import type { NodeState } from '../cluster/node-state.js';
import type { BootEvent } from '../cluster/nodes.js';
import { newestStageTiming } from './boot-timing.js';

/**
 * The controller's Prometheus metrics (GET /metrics; docs/metrics.md lists each). One registry per
 * controller, never prom-client's global one, so two controllers in one process (tests) do not
 * mix. Counters, gauges and histograms only: no MACs, addresses, hostnames or secrets in label
 * values. Every label has a bounded set of values: a route pattern of the route table, a status
 * code, a DHCP message type, a boot stage, a node state, a rollout phase, or a site name (sites
 * are the operator's, never chosen by the network).
 *
 * Servers are not changed for this: their existing counters (`DhcpServer.stats`,
 * `TftpServer.stats`) and the cluster's views are read when Prometheus scrapes, through the
 * {@link MetricsSources} getters the controller sets; events come in through the small hooks
 * below (`dhcpMessage`, `bootEvents`, `httpRequest`, `setRolloutProgress`).
 */

/** Read at scrape time; each may be absent (a service that is off, no balancer). */
export interface MetricsSources {
  dhcp?: () => DhcpStats | undefined;
  tftp?: () => TftpStats | undefined;
  /** Every known node's derived state, and whether it waits for approval. */
  nodes?: () => Array<{ state: NodeState; pending: boolean }>;
  /** Per site: the balancer's request rate and each server's check status (HAProxy's words: UP, DOWN 1/2, MAINT …). */
  balancer?: () => Array<{ site: string; rate: number; servers: Array<{ status: string }> }>;
}

const NODE_STATES: readonly NodeState[] = ['booting', 'ready', 'draining', 'down', 'maintenance'];
/** Seconds: a Pi 4 boots in ~20 s, a QEMU node under software emulation in a few minutes. */
const BOOT_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

export class ControllerMetrics {
  readonly registry = new Registry();
  private sources: MetricsSources = {};
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly dhcpMessages: Counter<'type'>;
  private readonly bootStages: Histogram<'stage'>;
  private readonly rollout: Gauge<'phase'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'bootfleet_http_requests_total', help: 'HTTP requests answered, by route pattern (the route table\'s, or "unmatched") and status', labelNames: ['method', 'route', 'status'], registers,
    });
    this.dhcpMessages = new Counter({ name: 'bootfleet_dhcp_messages_total', help: 'DHCP client messages received and replies sent, by message type', labelNames: ['type'], registers });
    this.bootStages = new Histogram({
      name: 'bootfleet_boot_stage_seconds', help: 'Seconds from a boot\'s first DHCP message to each later stage (first occurrence per boot)', labelNames: ['stage'], buckets: BOOT_BUCKETS, registers,
    });
    this.rollout = new Gauge({ name: 'bootfleet_rollout_nodes', help: 'Nodes of the running rollout in each phase (set by the rollout; empty when none runs)', labelNames: ['phase'], registers });
    this.statCounters('dhcp', 'DHCP', () => this.sources.dhcp?.(), {
      received: 'datagrams received', malformed: 'datagrams that did not decode', dropped: 'well-formed messages not answered', replied: 'replies sent',
    });
    this.statCounters('tftp', 'TFTP', () => this.sources.tftp?.(), {
      requests: 'read requests received', completed: 'transfers completed', errors: 'requests that failed on the server side or timed out',
      refused: 'requests refused by a transfer cap', aborted: 'transfers the client ended', malformed: 'datagrams dropped as malformed',
    });
    this.nodeGauges(registers);
    this.balancerGauges(registers);
  }

  /** Where scrape-time figures come from; the controller sets these as its services start. */
  setSources(sources: Partial<MetricsSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** One HTTP request answered; `route` is the route table's pattern (never the raw path: bounded labels). */
  httpRequest(method: string, route: string, status: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
  }

  /** One DHCP event (DhcpServer's onEvent). */
  dhcpMessage(type: DhcpEventType): void {
    this.dhcpMessages.inc({ type });
  }

  /** A node recorded a boot event; `events` has it last (NodeRegistry's onRecord). */
  bootEvents(events: readonly BootEvent[]): void {
    const timing = newestStageTiming(events);
    if (timing) this.bootStages.observe({ stage: timing.stage }, timing.seconds);
  }

  /**
   * The hook for rollouts: how many nodes are in each phase now (`{ pending: 3, draining: 1,
   * done: 6 }`); `undefined` or `{}` when no rollout runs. Phases absent from the call are removed.
   */
  setRolloutProgress(phaseCounts: Record<string, number> | undefined): void {
    this.rollout.reset();
    for (const [phase, n] of Object.entries(phaseCounts ?? {})) this.rollout.set({ phase }, n);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /**
   * Counters whose totals a server already keeps: each scrape sets the counter to the server's
   * figure (a restarted controller starts from 0 again, which Prometheus' rate() handles).
   */
  private statCounters<S extends object>(prefix: string, what: string, read: () => S | undefined, fields: Partial<Record<keyof S & string, string>>): void {
    for (const [field, help] of Object.entries(fields) as Array<[keyof S & string, string]>) {
      const name = `bootfleet_${prefix}_${field === 'replied' ? 'replies' : field}_total`;
      new Counter({
        name, help: `${what} ${help}`, registers: [this.registry],
        collect() {
          const value = read()?.[field];
          this.reset();
          if (typeof value === 'number') this.inc(value);
        },
      });
    }
  }

  private nodeGauges(registers: Registry[]): void {
    const nodes = (): Array<{ state: NodeState; pending: boolean }> => this.sources.nodes?.() ?? [];
    new Gauge({
      name: 'bootfleet_nodes', help: 'Known nodes by state (booting, ready, draining, down, maintenance)', labelNames: ['state'], registers,
      collect() {
        const list = nodes();
        for (const state of NODE_STATES) this.set({ state }, list.filter((n) => n.state === state).length);
      },
    });
    new Gauge({
      name: 'bootfleet_nodes_pending', help: 'Machines waiting for approval (bootfleet node approve / node add)', registers,
      collect() {
        this.set(nodes().filter((n) => n.pending).length);
      },
    });
  }

  private balancerGauges(registers: Registry[]): void {
    const sites = (): ReturnType<NonNullable<MetricsSources['balancer']>> => this.sources.balancer?.() ?? [];
    new Gauge({
      name: 'bootfleet_site_requests_per_second', help: 'Requests per second the balancer sees for each site (averaged over ~5 s)', labelNames: ['site'], registers,
      collect() {
        this.reset();
        for (const s of sites()) this.set({ site: s.site }, s.rate);
      },
    });
    new Gauge({
      name: 'bootfleet_balancer_servers', help: 'Balancer servers (a site on a node) by check status: up, down or other (maintenance, not checked yet)', labelNames: ['status'], registers,
      collect() {
        const counts = { up: 0, down: 0, other: 0 };
        for (const s of sites()) for (const server of s.servers) counts[serverStatus(server.status)] += 1;
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
  }
}

/** HAProxy's status words folded to three: `UP`, `UP 1/3` (going down) … `DOWN`, `DOWN 1/2` (coming up) … */
export function serverStatus(status: string): 'up' | 'down' | 'other' {
  if (status.startsWith('UP') || status.startsWith('DRAIN') || status === 'NOLB') return 'up';
  if (status.startsWith('DOWN')) return 'down';
  return 'other';
}
