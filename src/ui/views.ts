import type { NodeView } from '../http/api.js';
import type { SiteView } from '../http/sites.js';
import { bootSetBytes, type StoredImage } from '../images/store.js';
import type { HistoryView } from '../controller/balancer-history.js';
import { bootTimeline, formatDuration } from './timeline.js';

// What each page shows, worked out here (pure, unit-tested) so the templates only place text:
// they compile in strict mode, so every field they name exists on these objects.

export interface NodeRow {
  mac: string;
  /** The MAC as a DOM id part (52-54-00-…). */
  key: string;
  name: string;
  ip: string;
  kind: string;
  image: string;
  state: string;
  /** pending / refused and why, or '' once admitted. */
  admission: string;
  load: string;
  sites: string;
  timeline: { steps: Array<{ label: string; text: string; reached: boolean }>; total: string; failed: string } | null;
  canApprove: boolean;
  canDrain: boolean;
  canUndrain: boolean;
  canReboot: boolean;
}

export interface FleetView {
  nodes: NodeRow[];
  summary: string;
}

const MODELS: Record<string, string> = { pi3: 'Raspberry Pi 3', 'pi3b+': 'Raspberry Pi 3B+', pi4: 'Raspberry Pi 4', pi5: 'Raspberry Pi 5', unknown: 'Raspberry Pi' };
const FIRMWARE: Record<string, string> = { bios: 'PC (BIOS)', 'efi-x64': 'PC (UEFI)', 'efi-arm64': 'arm64 (UEFI)', rpi: 'Raspberry Pi', direct: 'direct boot', none: 'not seen yet' };

export function fleetView(nodes: readonly NodeView[]): FleetView {
  const rows = nodes.map((n): NodeRow => {
    const timeline = bootTimeline(n.events);
    const seen = n.firstSeen !== '-';
    return {
      mac: n.mac,
      key: domKey(n.mac),
      name: n.hostname ?? n.mac,
      ip: n.ip ?? '',
      kind: n.model ? MODELS[n.model] ?? n.model : FIRMWARE[n.firmware] ?? n.firmware,
      image: n.heartbeat?.image ?? n.image ?? '',
      state: n.status === 'admitted' ? n.state : n.status,
      admission: n.status === 'admitted' ? '' : `${n.status}: ${n.reason}`,
      load: n.heartbeat ? `${n.heartbeat.load1.toFixed(2)} · ${Math.round(n.heartbeat.memFreeKb / 1024)} MiB free` : '',
      sites: n.sites.join(', '),
      timeline: timeline
        ? {
          steps: timeline.steps.map((s) => ({ label: s.label, text: s.at === undefined ? '—' : s.ms === undefined ? 'start' : formatDuration(s.ms), reached: s.at !== undefined })),
          total: formatDuration(timeline.totalMs),
          failed: timeline.failed ?? '',
        }
        : null,
      canApprove: n.status === 'pending' && seen,
      canDrain: n.status === 'admitted' && n.settings.admin === 'active' && seen,
      canUndrain: n.settings.admin !== 'active',
      canReboot: n.status === 'admitted' && n.heartbeat !== undefined,
    };
  });
  const count = (pred: (r: NodeRow) => boolean): number => rows.filter(pred).length;
  const pending = count((r) => r.canApprove);
  return {
    nodes: rows,
    summary: `${rows.length} node${rows.length === 1 ? '' : 's'}, ${count((r) => r.state === 'ready')} ready${pending ? `, ${pending} waiting for approval` : ''}`,
  };
}

export interface SiteRow {
  name: string;
  domains: string;
  firstDomain: string;
  port: number;
  replicas: string;
  minReplicas: number;
  maxReplicas: number;
  nodes: Array<{ name: string; health: string }>;
  pinned: Array<{ mac: string; name: string }>;
  rate: string;
  content: string;
  health: string;
}

export interface SitesView {
  sites: SiteRow[];
  /** Nodes a site can be assigned to (admitted ones the controller has seen). */
  nodeOptions: Array<{ mac: string; name: string }>;
}

export function sitesView(sites: readonly SiteView[], nodes: readonly NodeView[]): SitesView {
  const nameOf = (mac: string): string => nodes.find((n) => n.mac === mac)?.hostname ?? mac;
  return {
    sites: sites.map((s) => ({
      name: s.name,
      domains: s.domains.join(', '),
      firstDomain: s.domains[0] ?? '',
      port: s.port,
      replicas: `${s.nodes.length} of ${s.replicas} (${s.minReplicas}–${s.maxReplicas})`,
      minReplicas: s.minReplicas,
      maxReplicas: s.maxReplicas,
      nodes: [...s.nodes, ...s.retiring.filter((m) => !s.nodes.includes(m))].map((mac) => ({
        name: nameOf(mac) + (s.retiring.includes(mac) && !s.nodes.includes(mac) ? ' (handing over)' : ''),
        health: healthOf(s.stats?.servers.find((x) => x.node === mac)?.status),
      })),
      pinned: s.pinned.map((mac) => ({ mac, name: nameOf(mac) })),
      rate: s.stats ? `${s.stats.rate.toFixed(1)}/s` : '',
      content: s.content ? `${s.content.version} (${formatBytes(s.content.size)})` : 'no content yet',
      health: `${s.health.path} → ${s.health.status}${s.health.text ? ` containing "${s.health.text}"` : ''}`,
    })),
    nodeOptions: nodes.filter((n) => n.status === 'admitted' && n.firstSeen !== '-').map((n) => ({ mac: n.mac, name: n.hostname ? `${n.hostname} (${n.mac})` : n.mac })),
  };
}

/** HAProxy's check status in words: "UP", "UP 1/3" (going down), "DOWN", "MAINT" … */
function healthOf(status: string | undefined): string {
  if (status === undefined) return 'not checked yet';
  if (status.startsWith('UP')) return status.includes('/') ? 'failing checks' : 'healthy';
  if (status.startsWith('DOWN')) return status.includes('/') ? 'recovering' : 'down';
  if (status.startsWith('DRAIN') || status === 'NOLB') return 'draining';
  if (status.startsWith('MAINT')) return 'maintenance';
  return status.toLowerCase();
}

export interface ImageRow {
  ref: string;
  name: string;
  id: string;
  arch: string;
  built: string;
  kernel: string;
  size: string;
  nodes: string;
  nodeCount: number;
}

export function imagesView(images: readonly StoredImage[], nodes: readonly NodeView[]): { images: ImageRow[] } {
  return {
    images: images.map((i) => {
      const ref = `${i.manifest.name}@${i.id}`;
      const running = nodes.filter((n) => (n.heartbeat?.image ?? n.image) === ref).map((n) => n.hostname ?? n.mac);
      return {
        ref, name: i.manifest.name, id: i.id, arch: i.manifest.arch,
        built: i.manifest.buildTime.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC'),
        kernel: i.manifest.kernelVersion,
        size: formatBytes(bootSetBytes(i.manifest)),
        nodes: running.join(', '),
        nodeCount: running.length,
      };
    }),
  };
}

export interface RateRow {
  name: string;
  requests: string;
  errors: string;
}

/** The newest finished bucket of each series, as text (the graphs' accessible twin). */
export function ratesView(history: HistoryView | undefined, nodes: readonly NodeView[]): { sites: RateRow[]; nodes: RateRow[]; running: boolean } {
  if (!history) return { sites: [], nodes: [], running: false };
  const rows = (series: HistoryView['sites'], nameOf: (k: string) => string): RateRow[] => Object.entries(series).map(([k, s]) => ({
    name: nameOf(k),
    requests: `${(s.requests.at(-1) ?? 0).toFixed(1)}/s`,
    errors: `${(s.errors.at(-1) ?? 0).toFixed(1)}/s`,
  }));
  return {
    sites: rows(history.sites, (k) => k),
    nodes: rows(history.nodes, (mac) => nodes.find((n) => n.mac === mac)?.hostname ?? mac),
    running: true,
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A MAC (or any name) as a DOM id part. */
export function domKey(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}
