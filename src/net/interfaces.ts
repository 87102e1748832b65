import { readdir } from 'node:fs/promises';
import { execa } from 'execa';

/** One network interface of this machine, as `bootfleet init` and `doctor` show it. */
export interface InterfaceInfo {
  name: string;
  mac?: string;
  up: boolean;
  loopback: boolean;
  /** IPv4 addresses with their prefix length. */
  addresses: Array<{ address: string; prefix: number }>;
}

interface IpAddrEntry {
  ifname?: string;
  flags?: string[];
  link_type?: string;
  address?: string;
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

/** Parses `ip -j addr` output (iproute2's JSON); entries it cannot read are left out. */
export function parseIpAddr(json: string): InterfaceInfo[] {
  const entries = JSON.parse(json) as unknown;
  if (!Array.isArray(entries)) return [];
  return (entries as IpAddrEntry[]).flatMap((e): InterfaceInfo[] => {
    if (typeof e.ifname !== 'string') return [];
    const loopback = e.link_type === 'loopback';
    return [{
      name: e.ifname,
      ...(e.address && !loopback ? { mac: e.address } : {}),
      up: (e.flags ?? []).includes('UP'),
      loopback,
      addresses: (e.addr_info ?? [])
        .filter((a) => a.family === 'inet' && typeof a.local === 'string' && typeof a.prefixlen === 'number')
        .map((a) => ({ address: a.local as string, prefix: a.prefixlen as number })),
    }];
  });
}

/**
 * The machine's interfaces: every name in /sys/class/net, with the link and addresses `ip -j addr`
 * reports (an interface `ip` does not show, or a machine without iproute2, still lists by name).
 */
export async function listInterfaces(): Promise<InterfaceInfo[]> {
  const names = await readdir('/sys/class/net').catch(() => [] as string[]);
  const r = await execa('ip', ['-j', 'addr'], { reject: false });
  const known = r.exitCode === 0 ? parseIpAddr(String(r.stdout)) : [];
  const byName = new Map(known.map((i) => [i.name, i]));
  for (const name of names) if (!byName.has(name)) byName.set(name, { name, up: false, loopback: name === 'lo', addresses: [] });
  return [...byName.values()].sort((a, b) => Number(a.loopback) - Number(b.loopback) || a.name.localeCompare(b.name));
}

/** "br0  52:54:00:12:34:56  up    198.18.0.1/24" lines for a prompt or a report. */
export function formatInterfaces(list: readonly InterfaceInfo[]): string {
  const rows = list.map((i) => [i.name, i.mac ?? '-', i.up ? 'up' : 'down', i.addresses.map((a) => `${a.address}/${a.prefix}`).join(' ') || '(no IPv4 address)']);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n');
}
