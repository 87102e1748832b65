import { BootfleetError } from '../errors.js';
import { freePort, type ClusterState, type Site } from './model.js';

/** What `bootfleet site add` (POST /api/sites) takes, before validation. */
export interface SiteInput {
  name?: unknown;
  domains?: unknown;
  weight?: unknown;
  minReplicas?: unknown;
  maxReplicas?: unknown;
  capacity?: unknown;
  health?: { path?: unknown; status?: unknown; text?: unknown };
  affinity?: { cookie?: unknown } | null;
}

const SITE_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
/** A host name (RFC 1123 §2.1): dot-separated labels of letters, digits and hyphens, ≤ 253 characters. */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** RFC 6265 cookie-name: an HTTP token. */
const COOKIE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const MAX_REPLICAS = 64;

/**
 * Validates a new site against the cluster: every problem at once, each naming the flag to fix.
 * A domain another site already serves is a conflict (ERR_CONFLICT), the rest are usage errors.
 */
export function validateSite(input: SiteInput, state: ClusterState, now = Date.now()): Site {
  const problems: string[] = [];
  const conflicts: string[] = [];
  const name = typeof input.name === 'string' ? input.name : '';
  if (!SITE_NAME.test(name)) problems.push(`name ${JSON.stringify(input.name ?? '')}: 1-40 lower-case letters, digits and "-", e.g. shop`);
  else if (state.sites[name]) conflicts.push(`site ${name} exists already (bootfleet site rm ${name} first, or deploy new content to it)`);
  const domains = Array.isArray(input.domains) ? input.domains.map((d) => String(d).toLowerCase()) : [];
  if (domains.length === 0) problems.push('--domain: give at least one domain, e.g. --domain shop.example');
  const seen = new Set<string>();
  for (const d of domains) {
    if (!DOMAIN.test(d)) problems.push(`--domain ${d}: not a host name (letters, digits, "-" and dots)`);
    if (seen.has(d)) problems.push(`--domain ${d}: given twice`);
    seen.add(d);
    const owner = Object.values(state.sites).find((s) => s.domains.includes(d));
    if (owner) conflicts.push(`--domain ${d}: already served by site ${owner.name}`);
  }
  const minReplicas = int(input.minReplicas, 1, 1, MAX_REPLICAS, '--min-replicas', problems);
  const maxReplicas = int(input.maxReplicas, Math.max(minReplicas, 4), 1, MAX_REPLICAS, '--max-replicas', problems);
  if (maxReplicas < minReplicas) problems.push(`--max-replicas ${maxReplicas}: below --min-replicas ${minReplicas}`);
  const weight = num(input.weight, 1, '--weight', problems);
  const capacity = num(input.capacity, 50, '--capacity', problems);
  const health = input.health ?? {};
  const path = typeof health.path === 'string' ? health.path : '/';
  if (!/^\/[\x21-\x7e]*$/.test(path) || path.length > 200) problems.push(`--health-path ${path}: a path starting with "/", no spaces`);
  const status = int(health.status, 200, 100, 599, '--health-status', problems);
  const text = health.text === undefined || health.text === null || health.text === '' ? undefined : String(health.text);
  if (text !== undefined && (text.length > 200 || !/^[\x20-\x7e]+$/.test(text))) problems.push('--health-text: up to 200 printable ASCII characters');
  const cookie = input.affinity?.cookie;
  if (cookie !== undefined && cookie !== null && (typeof cookie !== 'string' || !COOKIE.test(cookie))) problems.push(`--affinity-cookie ${String(cookie)}: a cookie name (letters, digits, and !#$%&'*+.^_\`|~-)`);
  if (problems.length > 0) throw new BootfleetError('ERR_USAGE', problems.join('; '));
  if (conflicts.length > 0) throw new BootfleetError('ERR_CONFLICT', conflicts.join('; '));
  return {
    name, domains, port: freePort(state.sites), weight, minReplicas, maxReplicas, replicas: minReplicas, lastScaleAt: now, capacity,
    health: { path, status, ...(text !== undefined ? { text } : {}) },
    ...(typeof cookie === 'string' ? { affinity: { cookie } } : {}),
    pinned: [],
  };
}

/** `bootfleet site scale`: new replica bounds (the current count is clamped into them) and capacity. */
export function scaleSite(site: Site, input: { minReplicas?: unknown; maxReplicas?: unknown; capacity?: unknown }, now = Date.now()): Site {
  const problems: string[] = [];
  const capacity = num(input.capacity, site.capacity, '--capacity', problems);
  const minReplicas = int(input.minReplicas, site.minReplicas, 1, MAX_REPLICAS, '--min-replicas', problems);
  const maxReplicas = int(input.maxReplicas, Math.max(site.maxReplicas, minReplicas), 1, MAX_REPLICAS, '--max-replicas', problems);
  if (maxReplicas < minReplicas) problems.push(`--max-replicas ${maxReplicas}: below --min-replicas ${minReplicas}`);
  if (problems.length > 0) throw new BootfleetError('ERR_USAGE', problems.join('; '));
  const replicas = Math.min(maxReplicas, Math.max(minReplicas, site.replicas));
  return { ...site, minReplicas, maxReplicas, replicas, capacity, ...(replicas !== site.replicas ? { lastScaleAt: now } : {}) };
}

function int(value: unknown, fallback: number, min: number, max: number, flag: string, problems: string[]): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${flag} ${String(value)}: a whole number from ${min} to ${max}`);
    return fallback;
  }
  return n;
}

function num(value: unknown, fallback: number, flag: string, problems: string[]): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1e6) {
    problems.push(`${flag} ${String(value)}: a number above 0`);
    return fallback;
  }
  return n;
}
