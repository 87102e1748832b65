import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { BootfleetError, errorMessage } from '../errors.js';
import { networkAddress } from './addr.js';

/**
 * The controller's two sides (docs/networks.md): the cluster network inside, where DHCP, TFTP,
 * node routes and the nodes themselves live, and an optional outside network where only the
 * admin listeners and the balancer's frontends face users. The kernel would route between them
 * and accept packets for the cluster address arriving on the outside interface (Linux's weak host
 * model), so a table of our own keeps them apart, and optionally lets the nodes out (NAT).
 */
export interface FirewallPlan {
  cluster: {
    interface: string;
    address: string;
    prefix: number;
    /** Subnets behind routers on the cluster side (dhcp.relays), `network/prefix`: cluster machines too. */
    routed?: readonly string[];
  };
  outside: { interface: string };
  /** Masquerade the cluster network out of the outside interface. */
  nat: boolean;
}

export const TABLE = 'bootfleet';

/**
 * The nftables script (pure). One table, replaced as a whole in one transaction:
 * - input: nothing arriving on the outside interface may reach the cluster-side address (its
 *   DHCP, TFTP, node routes and boot files answer only the cluster network);
 * - forward: outside → cluster only for connections the cluster side opened; cluster → outside
 *   only with NAT on;
 * - postrouting: with NAT, the cluster subnet leaves masqueraded as the outside address.
 * The cluster side's subnets are the controller's own and the routed ones (racks behind DHCP
 * relays): their nodes are held back or let out exactly like the nodes on the controller's link.
 */
export function firewallScript(p: FirewallPlan): string {
  const subnets = [`${networkAddress(p.cluster.address, p.cluster.prefix)}/${p.cluster.prefix}`, ...(p.cluster.routed ?? [])];
  const subnet = subnets.length === 1 ? subnets[0] : `{ ${subnets.join(', ')} }`;
  const cin = JSON.stringify(p.cluster.interface);
  const out = JSON.stringify(p.outside.interface);
  return [
    `table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    iifname ${out} ip daddr ${p.cluster.address} drop`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname ${out} oifname ${cin} ct state established,related accept`,
    `    iifname ${out} oifname ${cin} drop`,
    `    iifname ${cin} oifname ${out} ip saddr ${subnet} ${p.nat ? 'accept' : 'drop'}`,
    '  }',
    ...(p.nat ? [
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    iifname ${cin} oifname ${out} ip saddr ${subnet} masquerade`,
      '  }',
    ] : []),
    '}',
    '',
  ].join('\n');
}

/**
 * Installs the table (and, with NAT, turns IPv4 forwarding on); `remove()` takes the table away
 * and puts forwarding back as it was. Fails with what to install when nft is missing.
 */
export class Firewall {
  private forwardBefore: string | undefined;

  constructor(private readonly plan: FirewallPlan, private readonly nft = '/usr/sbin/nft') {}

  async apply(): Promise<void> {
    await this.run(['-f', '/dev/stdin'], firewallScript(this.plan));
    if (this.plan.nat) {
      this.forwardBefore = (await readFile(FORWARD, 'utf8').catch(() => '0')).trim();
      await writeFile(FORWARD, '1\n');
    }
  }

  /** Removes a table left behind (a run killed before it could), if nft and the table exist. */
  static async clear(nft = '/usr/sbin/nft'): Promise<void> {
    await execa(nft, ['delete', 'table', 'inet', TABLE], { reject: false }).catch(() => undefined);
  }

  async remove(): Promise<void> {
    await this.run(['delete', 'table', 'inet', TABLE]).catch(() => undefined);
    if (this.forwardBefore !== undefined) await writeFile(FORWARD, `${this.forwardBefore}\n`).catch(() => undefined);
    this.forwardBefore = undefined;
  }

  private async run(args: string[], input?: string): Promise<void> {
    try {
      await execa(this.nft, args, input === undefined ? {} : { input });
    } catch (err) {
      const e = err as { code?: string; stderr?: string };
      if (e.code === 'ENOENT') throw new BootfleetError('ERR_COMMAND_FAILED', `${this.nft} not found: controller.outsideInterface needs nftables (apt-get install nftables)`, { cause: err });
      throw new BootfleetError('ERR_COMMAND_FAILED', `nft ${args.join(' ')} failed: ${e.stderr?.trim() || errorMessage(err)}`, { cause: err });
    }
  }
}

const FORWARD = '/proc/sys/net/ipv4/ip_forward';
