import type { NodeView } from '../http/api.js';
import type { Enrollment } from '../boot/policy.js';
import { adminClient } from './client.js';

/** `bootfleet node list`: every node the controller knows, with its status and boot stages. */
export async function nodeListCommand(opts: { config: string; json: boolean }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<NodeView[]> {
  const client = await adminClient(opts.config);
  const { nodes } = await client.request<{ nodes: NodeView[] }>('GET', '/api/nodes');
  out(opts.json ? JSON.stringify({ nodes }, null, 2) + '\n' : formatNodeTable(nodes));
  return nodes;
}

/**
 * `bootfleet node add --mac <m> | --serial <s> [--model …] [--hostname …] [--image …]`: approves
 * a machine before (or while) it waits as pending. Needs the running controller.
 */
export async function nodeAddCommand(opts: { config: string; serial?: string; mac?: string; model?: string; hostname?: string; image?: string }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<Enrollment> {
  const client = await adminClient(opts.config);
  const e = await client.request<Enrollment>('POST', '/api/enrollment', {
    serial: opts.serial, mac: opts.mac, model: opts.model, hostname: opts.hostname, image: opts.image,
  });
  const who = [e.model, e.serial, e.mac].filter(Boolean).join(' ');
  out(`approved ${who}${e.hostname ? ` as ${e.hostname}` : ''}: it boots at its next netboot\n`);
  return e;
}

/** `bootfleet node forget <mac>`: removes a node and withdraws its approval. */
export async function nodeForgetCommand(opts: { config: string; mac: string }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const client = await adminClient(opts.config);
  await client.request('DELETE', `/api/nodes/${encodeURIComponent(opts.mac)}`);
  out(`forgot ${opts.mac}\n`);
}

/** A table with one row per node and its boot stages in order, e.g. `dhcp>tftp>ipxe-script>kernel>initrd`. */
export function formatNodeTable(nodes: NodeView[]): string {
  if (nodes.length === 0) return 'no nodes have booted yet\n';
  const rows = nodes.map((n) => [
    n.mac,
    n.hostname ?? '-',
    n.firmware,
    n.ip ?? '-',
    n.serial ?? '-',
    n.status,
    n.image ?? '-',
    n.lastSeen.replace('T', ' ').slice(0, 19),
    stages(n),
  ]);
  const header = ['MAC', 'HOSTNAME', 'FIRMWARE', 'IP', 'SERIAL', 'STATUS', 'IMAGE', 'LAST SEEN', 'STAGES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

/** The distinct stages of the node's events, collapsing repeats (`dhcp dhcp tftp` → `dhcp>tftp`). */
function stages(n: NodeView): string {
  const out: string[] = [];
  for (const e of n.events) if (out.at(-1) !== e.stage) out.push(e.stage);
  return out.join('>') || '-';
}

/** `bootfleet node approve <mac>`: approves a pending machine (shown by node list). */
export async function nodeApproveCommand(opts: { config: string; mac: string; hostname?: string; image?: string }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const client = await adminClient(opts.config);
  await client.request('POST', `/api/nodes/${encodeURIComponent(opts.mac)}/approve`, { hostname: opts.hostname, image: opts.image });
  out(`approved ${opts.mac}: it boots at its next netboot\n`);
}

/**
 * `bootfleet node drain|undrain|maintenance <mac>`: drain moves its sites away (each keeps serving
 * there until its new nodes answer), maintenance takes it out entirely, undrain brings it back.
 */
export async function nodeAdminCommand(opts: { config: string; mac: string; admin: 'active' | 'drain' | 'maintenance' }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const client = await adminClient(opts.config);
  await client.request('POST', `/api/nodes/${encodeURIComponent(opts.mac)}/settings`, { admin: opts.admin });
  const said = { active: 'back in service', drain: 'draining: its sites move to other nodes', maintenance: 'in maintenance: it serves no site' }[opts.admin];
  out(`${opts.mac} ${said}\n`);
}

/** `bootfleet node set <mac> [--weight w] [--label k=v …]`. */
export async function nodeSetCommand(opts: { config: string; mac: string; weight?: number; labels?: string[] }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const client = await adminClient(opts.config);
  const labels = opts.labels === undefined ? undefined : Object.fromEntries(opts.labels.map((l) => {
    const [k, ...v] = l.split('=');
    return [k ?? '', v.join('=')];
  }));
  await client.request('POST', `/api/nodes/${encodeURIComponent(opts.mac)}/settings`, { weight: opts.weight, labels });
  out(`${opts.mac} updated\n`);
}

/** `bootfleet node reboot <mac>`: its agent reboots it (it netboots again). */
export async function nodeRebootCommand(opts: { config: string; mac: string }, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  await (await adminClient(opts.config)).request('POST', `/api/nodes/${encodeURIComponent(opts.mac)}/reboot`);
  out(`${opts.mac} asked to reboot\n`);
}
