import { BootfleetError } from '../errors.js';
import { normalizeMac } from '../net/addr.js';

/** What a selector can match a node by. */
export interface Selectable {
  mac: string;
  hostname: string;
  labels: Readonly<Record<string, string>>;
}

/**
 * `--nodes`: `all` (the default), or comma-separated items, each a MAC, a hostname or
 * `label=value` (labels: `bootfleet node set <mac> --label k=v`). The nodes matched by any item,
 * in the order given (then by MAC). Every item must match something: a typo is an error naming
 * it, never a rollout of fewer nodes than meant.
 */
export function selectNodes<T extends Selectable>(selector: string | undefined, nodes: readonly T[]): T[] {
  const text = (selector ?? 'all').trim();
  const sorted = [...nodes].sort((a, b) => a.mac.localeCompare(b.mac));
  if (text === '' || text === 'all') {
    if (sorted.length === 0) throw new BootfleetError('ERR_USAGE', '--nodes all matches no node: no node has booted yet (bootfleet node list)');
    return sorted;
  }
  const out: T[] = [];
  const unmatched: string[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const hits = sorted.filter(matcher(item));
    if (hits.length === 0) unmatched.push(item);
    for (const h of hits) if (!out.includes(h)) out.push(h);
  }
  if (unmatched.length > 0) {
    throw new BootfleetError('ERR_USAGE', `--nodes ${text}: ${unmatched.map((u) => `"${u}"`).join(', ')} matches no node; give MACs, hostnames or label=value (bootfleet node list)`);
  }
  if (out.length === 0) throw new BootfleetError('ERR_USAGE', `--nodes ${text} matches no node (bootfleet node list)`);
  return out;
}

function matcher(item: string): (n: Selectable) => boolean {
  const eq = item.indexOf('=');
  if (eq > 0) {
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    return (n) => n.labels[key] === value;
  }
  const mac = normalizeMac(item);
  return (n) => (mac !== undefined && n.mac === mac) || n.hostname === item;
}
