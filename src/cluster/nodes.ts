import { join } from 'node:path';
import { AtomicJsonFile } from '../store/atomic.js';
import type { Firmware, PiModel } from '../boot/firmware.js';
import { isIPv4 } from '../net/addr.js';

/**
 * The boot stages a node passes through; each is recorded as an event with a time. The first
 * five are seen by the controller's own servers; the rest are reported by the node's initramfs
 * and image (POST /api/nodes/:mac/events). `address` comes later, from the running image, when
 * the DHCP server gave the node another address than the one it booted with (docs/images.md
 * "Built-in layer").
 */
export const BOOT_STAGES = [
  'dhcp', 'tftp', 'ipxe-script', 'kernel', 'initrd',
  'initramfs', 'rootfs-fetched', 'verified', 'verify-failed', 'overlay-refused', 'switched', 'init-done',
  'agent', 'reboot', 'address',
] as const;
export type BootStage = (typeof BOOT_STAGES)[number];

export function isBootStage(s: string): s is BootStage {
  return (BOOT_STAGES as readonly string[]).includes(s);
}

/**
 * The IPv4 address an `address` event reports: the detail's first word, `<ipv4>` or
 * `<ipv4>/<prefix>` (`198.18.0.150/24 eth0 was 198.18.0.101/24`). Undefined when it is not one.
 */
export function reportedAddress(detail: string): string | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?(?:\s|$)/.exec(detail);
  if (!m?.[1] || !isIPv4(m[1]) || Number(m[2] ?? 32) > 32) return undefined;
  return m[1];
}

export interface BootEvent {
  stage: BootStage;
  at: string;
  detail: string;
}

/** What the controller knows about one machine, keyed by MAC. Persisted in `<stateDir>/nodes.json`. */
export interface NodeRecord {
  mac: string;
  firmware: Firmware;
  model?: PiModel;
  /** Pi serial (8 lowercase hex digits), learned from its TFTP prefix. */
  serial?: string;
  /** The address the controller leased to it, or saw it take (its DHCP REQUEST): node routes answer only this address. */
  ip?: string;
  hostname?: string;
  /** The image it was last handed at boot, `name@version`. */
  image?: string;
  /** The CPU its initramfs reported (`?arch=` of its boot info request): later requests name the same build. */
  arch?: 'amd64' | 'arm64';
  /** The node agent's last heartbeat (POST /api/nodes/<mac>/heartbeat). */
  heartbeat?: Heartbeat;
  firstSeen: string;
  lastSeen: string;
  /** The newest events last; at most EVENTS_PER_NODE. */
  events: BootEvent[];
}

/** What the node agent reports every few seconds. */
export interface Heartbeat {
  at: string;
  /** The manifest generation it has applied. */
  generation: number;
  /** `name@version` of the image it runs. */
  image: string;
  /** Sites it serves now, as `name@content-version`. */
  sites: string[];
  load1: number;
  memFreeKb: number;
  /** Requests its web server answered since it started (-1 when the server does not count). */
  requests: number;
  /** The reboot token it booted with (the manifest's `reboot` then). */
  bootToken: string;
}

/** Facts a protocol may set; identity (mac), events and times are the registry's own. */
export type NodeFacts = Partial<Omit<NodeRecord, 'mac' | 'events' | 'firstSeen' | 'lastSeen'>>;

interface NodesFile {
  version: 1;
  nodes: NodeRecord[];
}

const EVENTS_PER_NODE = 50;
/** Writes are coalesced: at most one atomic write (one fsync) per second, however busy DHCP is. */
const SAVE_DELAY_MS = 1000;
export const DEFAULT_MAX_NODES = 4096;

export interface RegistryOptions {
  /** New MACs beyond this many are refused (logged, not stored): a flood of invented MACs cannot grow the file. */
  maxNodes?: number;
  now?: () => Date;
  /** Told once per refused MAC burst (rate-limited by the caller's logger). */
  onRefused?: (mac: string) => void;
  /** Told after each boot event is recorded (the node's events end with it): boot stage metrics. */
  onRecord?: (node: NodeRecord) => void;
  /** Told after this controller learned something about a node (not after a {@link NodeRegistry.merge}): sharing it with other controllers. */
  onChange?: (node: NodeRecord) => void;
}

/**
 * The node registry. Only DHCP creates nodes ({@link observe}); every other protocol only adds to
 * nodes that exist, so a GET with an invented MAC records nothing. Updates are in memory at once
 * and written shortly after, atomically, so a crash loses at most the last second and never
 * corrupts the file. `flush()` writes now.
 */
/** Both lists' events once each, oldest first, the newest EVENTS_PER_NODE kept. */
function mergeEvents(a: BootEvent[], b: BootEvent[]): BootEvent[] {
  const seen = new Set<string>();
  const all: BootEvent[] = [];
  for (const e of [...a, ...b]) {
    const id = `${e.at} ${e.stage} ${e.detail}`;
    if (seen.has(id)) continue;
    seen.add(id);
    all.push(e);
  }
  // A stable sort: events of one instant keep the order they were recorded in.
  return all.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0)).slice(-EVENTS_PER_NODE);
}

export class NodeRegistry {
  private readonly nodes = new Map<string, NodeRecord>();
  /** address → MAC of the node that holds it now (the newest binding wins over stale records). */
  private readonly addressOwner = new Map<string, string>();
  private readonly file: AtomicJsonFile<NodesFile>;
  private readonly maxNodes: number;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;

  private constructor(stateDir: string, private readonly opts: RegistryOptions) {
    this.file = new AtomicJsonFile(join(stateDir, 'nodes.json'));
    this.maxNodes = opts.maxNodes ?? DEFAULT_MAX_NODES;
    this.now = opts.now ?? (() => new Date());
  }

  static async open(stateDir: string, opts: RegistryOptions = {}): Promise<NodeRegistry> {
    const registry = new NodeRegistry(stateDir, opts);
    const data = await registry.file.load({ version: 1, nodes: [] });
    for (const node of [...data.nodes].sort((a, b) => a.lastSeen.localeCompare(b.lastSeen))) {
      registry.nodes.set(node.mac, node);
      if (node.ip) registry.addressOwner.set(node.ip, node.mac);
    }
    return registry;
  }

  /** Reads the registry file without owning it (for offline readers such as `image rm`'s in-use check). */
  static async read(stateDir: string): Promise<NodeRecord[]> {
    return (await new AtomicJsonFile<NodesFile>(join(stateDir, 'nodes.json')).load({ version: 1, nodes: [] })).nodes;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(mac: string): NodeRecord | undefined {
    return this.nodes.get(mac);
  }

  list(): NodeRecord[] {
    return [...this.nodes.values()].sort((a, b) => a.mac.localeCompare(b.mac));
  }

  findBy(pred: (n: NodeRecord) => boolean): NodeRecord | undefined {
    for (const n of this.nodes.values()) if (pred(n)) return n;
    return undefined;
  }

  /** The node that holds `ip` now, if any. */
  byAddress(ip: string): NodeRecord | undefined {
    const mac = this.addressOwner.get(ip);
    const node = mac === undefined ? undefined : this.nodes.get(mac);
    return node?.ip === ip ? node : undefined;
  }

  /**
   * A DHCP client message: creates the node if new (unless the registry is full: then undefined,
   * and the caller boots nothing for it) and records its facts.
   */
  observe(mac: string, facts: NodeFacts): NodeRecord | undefined {
    if (!this.nodes.has(mac) && this.nodes.size >= this.maxNodes) {
      this.opts.onRefused?.(mac);
      return undefined;
    }
    const at = this.now().toISOString();
    if (!this.nodes.has(mac)) this.nodes.set(mac, { mac, firmware: 'none', firstSeen: at, lastSeen: at, events: [] });
    return this.update(mac, facts);
  }

  /** Sets facts of an existing node (never erasing a known fact with undefined); undefined if unknown. */
  update(mac: string, facts: NodeFacts): NodeRecord | undefined {
    const node = this.nodes.get(mac);
    if (!node) return undefined;
    for (const [key, value] of Object.entries(facts)) {
      if (value !== undefined) (node as unknown as Record<string, unknown>)[key] = value;
    }
    if (facts.ip !== undefined) this.addressOwner.set(facts.ip, mac);
    node.lastSeen = this.now().toISOString();
    this.scheduleSave();
    this.opts.onChange?.(node);
    return node;
  }

  /**
   * Takes in what another controller knows of a node (store.kind etcd, docs/scale-out.md): facts
   * from whichever record was seen last, the newer heartbeat, the union of boot events. A node
   * unknown here is added (within maxNodes). Idempotent, and it never calls onChange, so two
   * controllers merging each other's records do not echo them back and forth. True if anything changed.
   */
  merge(remote: NodeRecord): boolean {
    const local = this.nodes.get(remote.mac);
    if (!local) {
      if (this.nodes.size >= this.maxNodes) return false;
      const copy = structuredClone(remote);
      copy.events = copy.events.slice(-EVENTS_PER_NODE);
      this.nodes.set(remote.mac, copy);
      if (copy.ip) this.addressOwner.set(copy.ip, copy.mac);
      this.scheduleSave();
      return true;
    }
    const before = JSON.stringify(local);
    if (remote.lastSeen > local.lastSeen) {
      for (const key of ['firmware', 'model', 'serial', 'ip', 'hostname', 'image', 'arch'] as const) {
        if (remote[key] !== undefined) (local as unknown as Record<string, unknown>)[key] = remote[key];
      }
      local.lastSeen = remote.lastSeen;
      if (remote.ip) this.addressOwner.set(remote.ip, remote.mac);
    }
    if (remote.heartbeat && (!local.heartbeat || remote.heartbeat.at > local.heartbeat.at)) local.heartbeat = remote.heartbeat;
    if (remote.firstSeen < local.firstSeen) local.firstSeen = remote.firstSeen;
    local.events = mergeEvents(local.events, remote.events);
    if (JSON.stringify(local) === before) return false;
    this.scheduleSave();
    return true;
  }

  /** Appends a boot event to an existing node; events for unknown MACs are dropped. */
  record(mac: string, stage: BootStage, detail: string): void {
    const node = this.update(mac, {});
    if (!node) return;
    node.events.push({ stage, at: node.lastSeen, detail });
    if (node.events.length > EVENTS_PER_NODE) node.events.splice(0, node.events.length - EVENTS_PER_NODE);
    this.opts.onRecord?.(node);
  }

  /** Removes a node (`bootfleet node forget`); true if it existed. */
  forget(mac: string): boolean {
    const node = this.nodes.get(mac);
    if (!node) return false;
    this.nodes.delete(mac);
    if (node.ip && this.addressOwner.get(node.ip) === mac) this.addressOwner.delete(node.ip);
    this.scheduleSave();
    return true;
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.file.save({ version: 1, nodes: this.list() });
  }

  private scheduleSave(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.file.save({ version: 1, nodes: this.list() });
    }, SAVE_DELAY_MS);
    this.timer.unref();
  }
}
