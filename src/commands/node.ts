import { loadConfig } from '../config.js';
import { NodeRegistry, type NodeRecord } from '../cluster/nodes.js';
import { packageRoot } from '../pkg.js';

/** `bootfleet node list`: every node the controller has seen, newest stage last. */
export async function nodeListCommand(opts: { config: string; json: boolean }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const config = await loadConfig(opts.config, packageRoot());
  const nodes = await NodeRegistry.read(config.controller.stateDir);
  if (opts.json) {
    out(JSON.stringify({ nodes }, null, 2) + '\n');
    return;
  }
  out(formatNodeTable(nodes));
}

/** A table with one row per node and its boot stages in order, e.g. `dhcp>tftp>ipxe-script>kernel>initrd`. */
export function formatNodeTable(nodes: NodeRecord[]): string {
  if (nodes.length === 0) return 'no nodes have booted yet\n';
  const rows = nodes.map((n) => [
    n.mac,
    n.firmware,
    n.ip ?? '-',
    n.serial ?? '-',
    n.firstSeen.replace('T', ' ').slice(0, 19),
    n.lastSeen.replace('T', ' ').slice(0, 19),
    stages(n),
  ]);
  const header = ['MAC', 'FIRMWARE', 'IP', 'SERIAL', 'FIRST SEEN', 'LAST SEEN', 'STAGES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

/** The distinct stages of the node's events, collapsing repeats (`dhcp dhcp tftp` → `dhcp>tftp`). */
function stages(n: NodeRecord): string {
  const out: string[] = [];
  for (const e of n.events) if (out.at(-1) !== e.stage) out.push(e.stage);
  return out.join('>') || '-';
}
