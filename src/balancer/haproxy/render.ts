import type { BalancerModel, BalancerServer, BalancerSite, RenderedFile } from '../model.js';
import { backendName, byKey, canonicalSites, cookieValue, header, hostPort, serverName, serverWeight } from '../names.js';

/**
 * haproxy.cfg + sites.map for Debian's HAProxy 2.6, from the model. Every value here is argued in
 * docs/balancer.md ("HAProxy settings"); the numbers live in HAPROXY_TIMEOUTS and checkTiming so
 * the docs' arithmetic (detectionBoundsMs) uses the same figures as the config.
 */
export const HAPROXY_FILES = { config: 'haproxy.cfg', map: 'sites.map' } as const;

/** Fixed timeouts (ms). `connect` is short because a LAN connect takes < 1 ms (docs/balancer.md). */
export const HAPROXY_TIMEOUTS = {
  connect: 300,
  // The read timeout of a check that connected: only a live node gets here (a dead one fails the
  // 300 ms connect), and a busy one must not count as down (docs/balancer.md, "timeout check").
  check: 3000,
  client: 30_000,
  server: 10_000,
  queue: 10_000,
  httpRequest: 10_000,
  keepAlive: 10_000,
  hardStopAfter: 60_000,
} as const;

export interface CheckTiming {
  inter: number;
  fastinter: number;
  downinter: number;
  fall: number;
  rise: number;
}

/** Check cadence for a site: `inter` from the site (default 1 s), the rest derived from it. */
export function checkTiming(intervalMs = 1000): CheckTiming {
  return {
    inter: intervalMs,
    fastinter: Math.min(250, Math.max(100, Math.round(intervalMs / 4))),
    downinter: Math.max(2000, 2 * intervalMs),
    fall: 2,
    rise: 3,
  };
}

/**
 * Worst-case time (ms) from a server failing to HAProxy marking it DOWN, with the documented
 * check semantics of 2.6 (configuration.txt "inter", "fastinter", "timeout check"): the next check
 * starts `inter` after the last good one, later ones `fastinter` apart, and with `timeout check`
 * set a check's connect waits min(timeout connect, inter). Refused: each check fails at once.
 * Silent: each waits out the connect timeout.
 */
export function detectionBoundsMs(timing: CheckTiming, connectMs: number = HAPROXY_TIMEOUTS.connect): { refused: number; silent: number } {
  const checkConnect = Math.min(connectMs, timing.inter);
  const spacing = timing.inter + (timing.fall - 1) * timing.fastinter;
  return { refused: spacing, silent: spacing + timing.fall * checkConnect };
}

/** Absolute paths of everything the managed HAProxy keeps in stateDir. */
export function haproxyPaths(stateDir: string): {
  config: string; map: string; socket: string; masterSocket: string; stateFile: string; pidFile: string; log: string;
} {
  const d = stateDir.replace(/\/+$/, '');
  return {
    config: `${d}/${HAPROXY_FILES.config}`,
    map: `${d}/${HAPROXY_FILES.map}`,
    socket: `${d}/haproxy.sock`,
    masterSocket: `${d}/master.sock`,
    stateFile: `${d}/server-state`,
    pidFile: `${d}/haproxy.pid`,
    log: `${d}/haproxy.log`,
  };
}

export interface HaproxyRenderOptions {
  /**
   * `backend/server` keys to render `disabled` whatever the model says: the managed process
   * does this for servers the running HAProxy does not know yet, so they enter service only
   * through the readmit sequence (a new server would otherwise be UP before any check).
   */
  startInMaint?: ReadonlySet<string>;
}

export function renderHaproxy(model: BalancerModel, opts: HaproxyRenderOptions = {}): RenderedFile[] {
  const paths = haproxyPaths(model.paths.stateDir);
  const sites = canonicalSites(model);
  const t = HAPROXY_TIMEOUTS;
  const lines: string[] = [
    'global',
    '    master-worker',
    `    stats socket ${paths.socket} mode 600 level admin`,
    `    server-state-file ${paths.stateFile}`,
    `    hard-stop-after ${t.hardStopAfter}ms`,
    '',
    'defaults',
    '    mode http',
    `    timeout connect ${t.connect}ms`,
    `    timeout client ${t.client}ms`,
    `    timeout http-request ${t.httpRequest}ms`,
    `    timeout http-keep-alive ${t.keepAlive}ms`,
    `    timeout queue ${t.queue}ms`,
    `    timeout server ${model.timeouts?.serverMs ?? t.server}ms`,
    `    timeout check ${t.check}ms`,
    '    retries 2',
    '    option redispatch 1',
    '    retry-on conn-failure empty-response response-timeout',
    '    option idle-close-on-response',
    '    option forwardfor',
    '    load-server-state-from-file global',
    '',
    'frontend fe_http',
    // `transparent` (IP_TRANSPARENT) lets the bind succeed while the virtual address is on the
    // other balancer; once keepalived adds it here, ordinary local delivery reaches this socket.
    ...model.listen.map((l) => `    bind ${hostPort(l.address, l.port)}${l.floating ? ' transparent' : ''}`),
    // Replaying a request is only safe when it is idempotent: POST & co. get connection retries only.
    '    http-request disable-l7-retry unless METH_GET',
    `    use_backend %[req.hdr(host),field(1,:),lower,map(${paths.map},be_unknown)]`,
    '    default_backend be_unknown',
    '',
    'backend be_unknown',
    '    http-request return status 404 content-type text/plain string "unknown site"',
  ];
  for (const site of sites) lines.push('', ...renderBackend(site, opts.startInMaint));
  const mapLines = sites
    .flatMap((s) => s.domains.map((d) => ({ d, be: backendName(s.id) })))
    .sort(byKey((e) => e.d))
    .map((e) => `${e.d} ${e.be}`);
  return [
    { path: HAPROXY_FILES.config, text: header(model, '#') + lines.join('\n') + '\n' },
    { path: HAPROXY_FILES.map, text: header(model, '#') + mapLines.join('\n') + (mapLines.length ? '\n' : '') },
  ];
}

function renderBackend(site: BalancerSite, startInMaint: ReadonlySet<string> | undefined): string[] {
  const be = backendName(site.id);
  const out = [`backend ${be}`];
  if (site.servers.length === 0) {
    out.push(`    http-request return status 503 content-type text/plain string "site ${site.id} has no servers"`);
    return out;
  }
  const timing = checkTiming(site.check.intervalMs);
  const primary = site.domains[0] ?? site.id;
  out.push(
    '    balance roundrobin',
    '    option httpchk',
    `    http-check send meth GET uri ${site.check.path} ver HTTP/1.1 hdr Host ${primary}`,
    // Several expect rules all have to pass (2.2+ check rulesets): status first, then the text.
    `    http-check expect status ${site.check.status}`,
  );
  if (site.check.text !== undefined) out.push(`    http-check expect string ${quote(site.check.text)}`);
  if (site.affinity) out.push(`    cookie ${site.affinity.cookie} insert indirect nocache`);
  out.push(`    default-server check inter ${timing.inter}ms fastinter ${timing.fastinter}ms downinter ${timing.downinter}ms fall ${timing.fall} rise ${timing.rise}`);
  for (const s of site.servers) out.push(`    ${serverLine(s, site, startInMaint?.has(`${be}/${serverName(s.node)}`) ?? false)}`);
  return out;
}

function serverLine(s: BalancerServer, site: BalancerSite, forceMaint: boolean): string {
  const words = [`server ${serverName(s.node)} ${hostPort(s.address, s.port)}`];
  // Drain has no config keyword; weight 0 gives the same "no new load-balanced traffic" and
  // survives a start without a state file. The runtime DRAIN flag is set on top (process.ts).
  words.push(`weight ${s.admin === 'drain' ? 0 : serverWeight(s)}`);
  if (site.affinity) words.push(`cookie ${cookieValue(s.node)}`);
  if (s.admin === 'maint' || forceMaint) words.push('disabled');
  return words.join(' ');
}

/**
 * A config word in single quotes, where HAProxy 2.6 interprets nothing; a `'` closes the quote,
 * adds `"'"` and reopens it (adjacent quoted parts form one word).
 */
export function quote(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}
