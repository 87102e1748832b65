import type { SiteView } from '../http/sites.js';
import type { Site, SiteContent } from '../cluster/model.js';
import { packSiteDir } from '../cluster/pack-dir.js';
import { LiveLine, uploadStatus } from './live-line.js';
import { adminClient } from './client.js';

type Out = (s: string) => void;
const stdout: Out = (s) => process.stdout.write(s);

export interface SiteAddOptions {
  config: string;
  name: string;
  domains: string[];
  weight?: number;
  minReplicas?: number;
  maxReplicas?: number;
  capacity?: number;
  healthPath?: string;
  healthStatus?: number;
  healthText?: string;
  affinityCookie?: string;
  /** A folder to deploy as its first content. */
  content?: string;
}

/** `bootfleet site add <name> --domain …`: a new site (placed once it has content). */
export async function siteAddCommand(o: SiteAddOptions, out: Out = stdout): Promise<Site> {
  const client = await adminClient(o.config);
  const site = await client.request<Site>('POST', '/api/sites', {
    name: o.name, domains: o.domains, weight: o.weight, minReplicas: o.minReplicas, maxReplicas: o.maxReplicas, capacity: o.capacity,
    health: { path: o.healthPath, status: o.healthStatus, text: o.healthText },
    ...(o.affinityCookie ? { affinity: { cookie: o.affinityCookie } } : {}),
  });
  out(`added site ${site.name} (${site.domains.join(', ')}) on node port ${site.port}, ${site.minReplicas}-${site.maxReplicas} replicas\n`);
  if (o.content) await siteDeployCommand({ config: o.config, name: o.name, dir: o.content }, out);
  else out(`deploy its content to place it: bootfleet site deploy ${site.name} <folder>\n`);
  return site;
}

/** `bootfleet site deploy <name> <folder>`: uploads the folder as the site's new content version. */
export async function siteDeployCommand(o: { config: string; name: string; dir: string }, out: Out = stdout): Promise<SiteContent> {
  const client = await adminClient(o.config);
  const tar = await packSiteDir(o.dir);
  out(`uploading ${o.dir} (${(tar.length / 1024).toFixed(0)} KiB) to site ${o.name}…\n`);
  // A bar on a terminal; plain lines only otherwise.
  const live = new LiveLine(process.stdout, out === stdout ? undefined : false);
  let content: SiteContent;
  try {
    content = await client.request<SiteContent>('PUT', `/api/sites/${encodeURIComponent(o.name)}/content`, tar, {
      ...(live.enabled ? { onUpload: (sent: number, total: number) => live.update(uploadStatus(o.name, sent, total)) } : {}),
    });
  } finally {
    live.done();
  }
  out(`site ${o.name} now serves content ${content.version} (sha256 ${content.sha256.slice(0, 16)}…)\n`);
  return content;
}

/** `bootfleet site rm <name>`: gone from every node and from the balancer. */
export async function siteRmCommand(o: { config: string; name: string }, out: Out = stdout): Promise<void> {
  await (await adminClient(o.config)).request('DELETE', `/api/sites/${encodeURIComponent(o.name)}`);
  out(`removed site ${o.name}\n`);
}

/** `bootfleet site scale <name> --min-replicas n [--max-replicas m]`. */
export async function siteScaleCommand(o: { config: string; name: string; minReplicas?: number; maxReplicas?: number; capacity?: number }, out: Out = stdout): Promise<Site> {
  const site = await (await adminClient(o.config)).request<Site>('POST', `/api/sites/${encodeURIComponent(o.name)}/scale`, { minReplicas: o.minReplicas, maxReplicas: o.maxReplicas, capacity: o.capacity });
  out(`site ${site.name}: ${site.minReplicas}-${site.maxReplicas} replicas (now ${site.replicas}), ${site.capacity} requests/s per node\n`);
  return site;
}

/** `bootfleet assign <site> <node>` / `unassign`: pins a site to a node by hand. */
export async function assignCommand(o: { config: string; site: string; node: string; unassign: boolean }, out: Out = stdout): Promise<Site> {
  const client = await adminClient(o.config);
  const path = `/api/sites/${encodeURIComponent(o.site)}/assign`;
  const site = o.unassign
    ? await client.request<Site>('DELETE', `${path}/${encodeURIComponent(o.node)}`)
    : await client.request<Site>('POST', path, { node: o.node });
  out(`site ${site.name} is pinned to: ${site.pinned.join(', ') || 'no node'}\n`);
  return site;
}

/** `bootfleet site list [--json]`. */
export async function siteListCommand(o: { config: string; json: boolean }, out: Out = stdout): Promise<SiteView[]> {
  const { sites, generation } = await (await adminClient(o.config)).request<{ sites: SiteView[]; generation: number }>('GET', '/api/sites');
  if (o.json) {
    out(JSON.stringify({ generation, sites }, null, 2) + '\n');
    return sites;
  }
  out(formatSiteTable(sites));
  return sites;
}

export function formatSiteTable(sites: SiteView[]): string {
  if (sites.length === 0) return 'no sites yet: bootfleet site add <name> --domain <domain> --content <folder>\n';
  const rows = sites.map((s) => [
    s.name, s.domains.join(','), String(s.port), `${s.replicas} (${s.minReplicas}-${s.maxReplicas})`,
    s.content?.version ?? '-', s.nodes.join(',') || '-', s.stats ? s.stats.rate.toFixed(1) : '-',
  ]);
  const header = ['SITE', 'DOMAINS', 'PORT', 'REPLICAS', 'CONTENT', 'NODES', 'REQ/S'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}
