import { loadConfig } from '../config.js';
import { NodeRegistry, type NodeRecord } from '../cluster/nodes.js';
import { enrollPi, readEnrollment, withEnrolled, type EnrolledPi } from '../cluster/enrollment.js';
import { packageRoot } from '../pkg.js';

/** `bootfleet node list`: every node the controller has seen, newest stage last. */
export async function nodeListCommand(opts: { config: string; json: boolean }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const config = await loadConfig(opts.config, packageRoot());
  const nodes = withEnrolled(await NodeRegistry.read(config.controller.stateDir), await readEnrollment(config.controller.stateDir));
  if (opts.json) {
    out(JSON.stringify({ nodes }, null, 2) + '\n');
    return;
  }
  out(formatNodeTable(nodes));
}

/**
 * `bootfleet node add --serial <s> [--mac <m>] --model <pi4|…>`: approves a Pi before its first
 * boot (it would otherwise be held pending). Works with or without a running controller.
 */
export async function nodeAddCommand(opts: { config: string; serial: string; mac?: string; model: string; hostname?: string }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<EnrolledPi> {
  const config = await loadConfig(opts.config, packageRoot());
  const pi = await enrollPi(config.controller.stateDir, opts);
  out(`approved ${pi.model} ${pi.serial}${pi.mac ? ` (${pi.mac})` : ''}: it boots at its next netboot\n`);
  return pi;
}

/** A table with one row per node and its boot stages in order, e.g. `dhcp>tftp>ipxe-script>kernel>initrd`. */
export function formatNodeTable(nodes: NodeRecord[]): string {
  if (nodes.length === 0) return 'no nodes have booted yet\n';
  const rows = nodes.map((n) => [
    n.mac,
    n.firmware,
    n.ip ?? '-',
    n.serial ?? '-',
    n.status ?? '-',
    n.firstSeen.replace('T', ' ').slice(0, 19),
    n.lastSeen.replace('T', ' ').slice(0, 19),
    stages(n),
  ]);
  const header = ['MAC', 'FIRMWARE', 'IP', 'SERIAL', 'STATUS', 'FIRST SEEN', 'LAST SEEN', 'STAGES'];
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
