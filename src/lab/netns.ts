import { execa, type Options as ExecaOptions } from 'execa';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { BootfleetError } from '../errors.js';

/**
 * Linux network namespaces made and removed by bootfleet itself (the lab, tests, the demo).
 * Every name starts with `bf` so leftovers are easy to spot; nothing here touches an interface or
 * namespace it did not create.
 */
export class NetNamespace {
  private removed = false;

  private constructor(readonly name: string) {}

  /** Creates a fresh namespace with loopback up. `prefix` keeps names readable (max 15 chars total for links). */
  static async create(prefix = 'bf'): Promise<NetNamespace> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await ip(['netns', 'add', name]);
    const ns = new NetNamespace(name);
    live.add(ns);
    await ns.ip(['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs `ip …` inside the namespace. */
  ip(args: string[]): Promise<string> {
    return ip(['-n', this.name, ...args]);
  }

  /** Runs a command inside the namespace and waits for it. */
  async exec(file: string, args: string[], options: ExecaOptions = {}): Promise<{ stdout: string; stderr: string }> {
    const r = await execa('ip', ['netns', 'exec', this.name, file, ...args], { ...options, reject: true });
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  /** argv prefix that runs a command inside this namespace (for long-running children). */
  wrap(file: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, file, ...args]];
  }

  /** Adds a bridge with the given address; forward_delay 0 so new ports forward at once. */
  async addBridge(dev: string, cidr?: string): Promise<void> {
    await this.ip(['link', 'add', dev, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    if (cidr) await this.ip(['addr', 'add', cidr, 'dev', dev]);
    await this.ip(['link', 'set', dev, 'up']);
  }

  /** Adds a tap device (for a QEMU NIC) enslaved to `bridge`. */
  async addTap(dev: string, bridge: string): Promise<void> {
    await this.ip(['tuntap', 'add', 'dev', dev, 'mode', 'tap']);
    await this.ip(['link', 'set', dev, 'master', bridge]);
    await this.ip(['link', 'set', dev, 'up']);
  }

  /**
   * Connects `other` to this namespace with a veth pair: `localDev` here (enslaved to `bridge` if
   * given), `remoteDev` in `other` with `remoteCidr`.
   */
  async connect(other: NetNamespace, opts: { localDev: string; remoteDev: string; bridge?: string; localCidr?: string; remoteCidr?: string }): Promise<void> {
    await this.ip(['link', 'add', opts.localDev, 'type', 'veth', 'peer', 'name', opts.remoteDev, 'netns', other.name]);
    if (opts.bridge) await this.ip(['link', 'set', opts.localDev, 'master', opts.bridge]);
    if (opts.localCidr) await this.ip(['addr', 'add', opts.localCidr, 'dev', opts.localDev]);
    await this.ip(['link', 'set', opts.localDev, 'up']);
    if (opts.remoteCidr) await other.ip(['addr', 'add', opts.remoteCidr, 'dev', opts.remoteDev]);
    await other.ip(['link', 'set', opts.remoteDev, 'up']);
  }

  /**
   * Deletes the namespace (its veths and taps go with it). Safe to call twice. A process still
   * inside was started by this lab, directly or by one of its processes (the managed HAProxy of a
   * controller that was killed before it could stop it): it is ended by its PID first, or it would
   * keep the namespace alive and hold its addresses.
   */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    live.delete(this);
    const pids = (await ip(['netns', 'pids', this.name]).catch(() => '')).split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 1);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await ip(['netns', 'del', this.name]).catch(() => undefined);
  }
}

const live = new Set<NetNamespace>();

/** Names of namespaces this process created and has not removed yet. */
export function liveNamespaces(): string[] {
  return [...live].map((ns) => ns.name);
}

// A test that throws must not leave namespaces behind. Synchronous on purpose: async work does
// not run inside an 'exit' handler. Signals are turned into exits by the lab's owner (cli/tests).
process.once('exit', () => {
  for (const ns of live) spawnSync('ip', ['netns', 'del', ns.name], { stdio: 'ignore' });
});

async function ip(args: string[]): Promise<string> {
  try {
    const r = await execa('ip', args);
    return r.stdout;
  } catch (err) {
    throw new BootfleetError('ERR_LAB', `ip ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
  }
}
