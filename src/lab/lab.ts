import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootfleetError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { inSubnet } from '../net/addr.js';
import { NetNamespace } from './netns.js';
import { LabProcess } from './process.js';
import { QemuNode, type QemuOptions } from './qemu.js';

export interface LabOptions {
  /** Address of br0 in the lab namespace, where the controller listens. Default 198.18.0.1/24. */
  bridgeCidr?: string;
  /** Where node consoles and child output are logged; default a fresh dir under the temp dir. */
  logDir?: string;
  log?: Logger;
}

/** QEMU options the lab fills in itself (name, tap, namespace and log file are the lab's). */
export type AddNodeOptions = Omit<QemuOptions, 'name' | 'tap' | 'netns' | 'logFile' | 'boot'> & {
  name?: string;
  /** Default `network`. */
  boot?: QemuOptions['boot'];
  /** Default true: attach a tap on br0 (needed for network boot). */
  network?: boolean;
  /**
   * The lab namespace's bridge the tap joins; default br0. Another bridge made with
   * `lab.ns.addBridge` is another LAN segment, e.g. a rack behind a router (test/lab/relay.test.ts).
   */
  bridge?: string;
};

export interface SpawnOptions {
  name?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Run in this namespace instead of the lab's (e.g. one from `addHost`). */
  netns?: NetNamespace;
}

/** Tests and the demo may only use the benchmark range (RFC 2544), never private or real nets. */
const LAB_RANGE = { network: '198.18.0.0', prefix: 15 };

/**
 * A virtual cluster network on this machine: a namespace holding bridge `br0` (the cluster LAN),
 * QEMU nodes on taps in that bridge, extra hosts in their own namespaces wired to it by veth, and
 * children (a controller, a DHCP server) running inside. Everything it starts it also ends:
 * `destroy()` stops each process by PID and deletes each namespace; an exiting process does the
 * same synchronously (see netns.ts and process.ts).
 */
export class Lab {
  readonly bridge = 'br0';
  private readonly nodes: QemuNode[] = [];
  private nodeCount = 0;
  private readonly children: LabProcess[] = [];
  private readonly hosts: NetNamespace[] = [];
  private destroyed = false;
  private destroying: Promise<void> | undefined;

  private constructor(
    readonly ns: NetNamespace,
    /** The bridge's address without prefix, e.g. "198.18.0.1". */
    readonly address: string,
    readonly cidr: string,
    readonly logDir: string,
    private readonly log: Logger,
  ) {}

  /** Creates the namespace and bridge. On failure, removes whatever it created. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const cidr = opts.bridgeCidr ?? '198.18.0.1/24';
    const address = checkLabCidr(cidr);
    const logDir = opts.logDir ?? (await mkdtemp(join(tmpdir(), 'bootfleet-lab-')));
    const ns = await NetNamespace.create('bf-lab');
    try {
      await ns.addBridge('br0', cidr);
    } catch (err) {
      await ns.remove();
      throw err;
    }
    const log = (opts.log ?? silentLogger()).child({ sub: 'lab', netns: ns.name });
    log.info({ logDir }, 'lab created');
    return new Lab(ns, address, cidr, logDir, log);
  }

  /**
   * Adds tap `tapN` to br0 and starts a QEMU guest on it inside the lab namespace. Defaults:
   * x86_64, network boot, MAC 52:54:00:bf:00:NN (N = node number). Returns once QEMU started.
   */
  async addNode(opts: AddNodeOptions = {}): Promise<QemuNode> {
    this.assertAlive();
    // Numbered before the first await, so concurrent addNode() calls get distinct taps and MACs.
    const n = ++this.nodeCount;
    const name = opts.name ?? `node-${n}`;
    const withTap = opts.network ?? true;
    const tap = `tap${n}`;
    if (withTap) await this.ns.addTap(tap, opts.bridge ?? this.bridge);
    const node = QemuNode.start({
      ...withoutKey(withoutKey(opts, 'network'), 'bridge'),
      name,
      boot: opts.boot ?? 'network',
      mac: opts.mac ?? `52:54:00:bf:00:${n.toString(16).padStart(2, '0')}`,
      netns: this.ns,
      logFile: join(this.logDir, `${name}.log`),
      ...(withTap ? { tap } : {}),
    });
    this.nodes.push(node);
    this.log.info({ name, pid: node.pid, mac: node.mac, log: node.logFile }, 'node started');
    return node;
  }

  /**
   * Another namespace on the lab LAN: a veth `v-<name>` in br0 and `eth0` with `cidr` in the new
   * namespace (for a separate DHCP server, a test client …). Removed by destroy().
   */
  async addHost(name: string, cidr: string): Promise<NetNamespace> {
    this.assertAlive();
    checkLabCidr(cidr);
    const localDev = `v-${name}`.slice(0, 15);
    const host = await NetNamespace.create(`bf-${name}`.slice(0, 20));
    this.hosts.push(host);
    await this.ns.connect(host, { localDev, remoteDev: 'eth0', bridge: this.bridge, remoteCidr: cidr });
    return host;
  }

  /**
   * Starts a long-running child inside the lab namespace (or `opts.netns`), output logged to
   * `<logDir>/<name>.log`. destroy() stops it; stop it earlier with its own `stop()`.
   */
  spawn(file: string, args: string[], opts: SpawnOptions = {}): LabProcess {
    this.assertAlive();
    const name = opts.name ?? `${file.split('/').pop() ?? file}-${this.children.length + 1}`;
    const child = new LabProcess((opts.netns ?? this.ns).wrap(file, args), {
      name,
      logFile: join(this.logDir, `${name}.log`),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    this.children.push(child);
    this.log.info({ name, pid: child.pid }, 'child started');
    return child;
  }

  /** Every node started so far. */
  get qemuNodes(): readonly QemuNode[] {
    return this.nodes;
  }

  /**
   * Stops every node and child (by PID, in parallel) and deletes every namespace. Safe to call
   * twice and after failures; errors are collected and reported once everything was attempted.
   * A second call (a signal arriving while a failing run cleans up) waits for the first.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.tearDown();
    return this.destroying;
  }

  private async tearDown(): Promise<void> {
    this.destroyed = true;
    const problems: string[] = [];
    const attempt = async (what: string, p: Promise<unknown>): Promise<void> => {
      await p.catch((err: unknown) => problems.push(`${what}: ${errorMessage(err)}`));
    };
    await Promise.all([
      ...this.nodes.map((n) => attempt(`stop ${n.name}`, n.stop())),
      ...this.children.map((c) => attempt(`stop ${c.options.name}`, c.stop())),
    ]);
    await Promise.all([...this.hosts, this.ns].map((ns) => attempt(`remove ${ns.name}`, ns.remove())));
    this.log.info({ logDir: this.logDir }, 'lab destroyed');
    if (problems.length > 0) throw new BootfleetError('ERR_LAB', `lab cleanup incomplete:\n  ${problems.join('\n  ')}`);
  }

  private assertAlive(): void {
    if (this.destroyed) throw new BootfleetError('ERR_LAB', `lab ${this.ns.name} was destroyed`);
  }
}

/** Returns the address part of `cidr` after checking it lies in 198.18.0.0/15. */
function checkLabCidr(cidr: string): string {
  const [address, prefix] = cidr.split('/');
  const inRange = (): boolean => {
    try {
      return address !== undefined && prefix !== undefined && inSubnet(address, LAB_RANGE.network, LAB_RANGE.prefix) && Number(prefix) >= 15;
    } catch {
      return false; // not an IPv4 address at all
    }
  };
  if (!inRange() || !address) throw new BootfleetError('ERR_LAB', `lab address ${cidr} must be inside 198.18.0.0/15 (the benchmark range)`);
  return address;
}

function withoutKey<T extends object, K extends keyof T>(obj: T, key: K): Omit<T, K> {
  const copy = { ...obj };
  delete copy[key];
  return copy;
}
