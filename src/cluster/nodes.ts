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
  'address',
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
  ip?: string;
  hostname?: string;
  /** Raspberry Pis only: enrolled with `bootfleet node add` (approved) or waiting (pending). */
  status?: 'approved' | 'pending';
  /** The image it was last handed at boot, `name@version`. */
  image?: string;
  firstSeen: string;
  lastSeen: string;
  /** The newest events last; at most EVENTS_PER_NODE. */
  events: BootEvent[];
}

interface NodesFile {
  version: 1;
  nodes: NodeRecord[];
}

const EVENTS_PER_NODE = 50;
const SAVE_DELAY_MS = 100;

/**
 * The node registry. Updates are in memory at once and written to disk shortly after (batched:
 * a PXE boot produces dozens of events per second), atomically, so a crash loses at most the
 * last 100 ms and never corrupts the file. `flush()` writes now.
 */
export class NodeRegistry {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly file: AtomicJsonFile<NodesFile>;
  private timer: NodeJS.Timeout | undefined;

  private constructor(stateDir: string, private readonly now: () => Date) {
    this.file = new AtomicJsonFile(join(stateDir, 'nodes.json'));
  }

  static async open(stateDir: string, now: () => Date = () => new Date()): Promise<NodeRegistry> {
    const registry = new NodeRegistry(stateDir, now);
    const data = await registry.file.load({ version: 1, nodes: [] });
    for (const node of data.nodes) registry.nodes.set(node.mac, node);
    return registry;
  }

  /** Reads the registry file without owning it (for `bootfleet node list`). */
  static async read(stateDir: string): Promise<NodeRecord[]> {
    const data = await new AtomicJsonFile<NodesFile>(join(stateDir, 'nodes.json')).load({ version: 1, nodes: [] });
    return data.nodes;
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

  /** Creates or updates a node's facts (never erasing a known fact with undefined). */
  see(mac: string, facts: Partial<Omit<NodeRecord, 'mac' | 'events' | 'firstSeen' | 'lastSeen'>>): NodeRecord {
    const at = this.now().toISOString();
    const node = this.nodes.get(mac) ?? { mac, firmware: 'none' as Firmware, firstSeen: at, lastSeen: at, events: [] };
    for (const [key, value] of Object.entries(facts)) {
      if (value !== undefined) (node as unknown as Record<string, unknown>)[key] = value;
    }
    node.lastSeen = at;
    this.nodes.set(mac, node);
    this.scheduleSave();
    return node;
  }

  /** Appends a boot event for `mac` (creating the node if new). */
  record(mac: string, stage: BootStage, detail: string): void {
    const node = this.see(mac, {});
    node.events.push({ stage, at: node.lastSeen, detail });
    if (node.events.length > EVENTS_PER_NODE) node.events.splice(0, node.events.length - EVENTS_PER_NODE);
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
  }
}
