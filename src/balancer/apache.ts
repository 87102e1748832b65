import type { BalancerModel, BalancerServer, BalancerSite, RenderedFile } from './model.js';
import { canonicalSites, cookieValue, header, hostPort, literalRegex, serverWeight } from './names.js';
import { checkTiming } from './haproxy/render.js';

/**
 * A standalone apache2.conf for Apache httpd 2.4 (`apache2 -f <stateDir>/apache2.conf`): modules
 * loaded from Debian's /usr/lib/apache2/modules, pid, logs, mutexes and runtime files in
 * stateDir, one name-based VirtualHost per site with its own mod_proxy_balancer balancer, active
 * checks by mod_proxy_hcheck, and the balancer-manager for local clients only.
 */
export const APACHE_FILE = 'apache2.conf';
export const APACHE_MODULES_DIR = '/usr/lib/apache2/modules';

const MODULES: Array<[string, string]> = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['authz_host_module', 'mod_authz_host.so'],
  ['alias_module', 'mod_alias.so'],
  ['headers_module', 'mod_headers.so'],
  ['status_module', 'mod_status.so'],
  ['slotmem_shm_module', 'mod_slotmem_shm.so'],
  ['proxy_module', 'mod_proxy.so'],
  ['proxy_http_module', 'mod_proxy_http.so'],
  ['proxy_balancer_module', 'mod_proxy_balancer.so'],
  ['proxy_hcheck_module', 'mod_proxy_hcheck.so'],
  ['lbmethod_byrequests_module', 'mod_lbmethod_byrequests.so'],
];

export function renderApache(model: BalancerModel): RenderedFile[] {
  const d = model.paths.stateDir.replace(/\/+$/, '');
  const listens = model.listen.map((l) => hostPort(l.address, l.port));
  const vhostAddrs = listens.join(' ');
  const lines: string[] = [
    `ServerRoot ${d}`,
    'ServerName bootfleet-balancer',
    // Only used when started as root (children switch to it); Debian's unprivileged account.
    'User nobody',
    'Group nogroup',
    `PidFile ${d}/apache2.pid`,
    `ErrorLog ${d}/apache2-error.log`,
    'LogLevel warn',
    `DefaultRuntimeDir ${d}`,
    `Mutex file:${d} default`,
    `Timeout ${Math.ceil((model.timeouts?.serverMs ?? 10_000) / 1000)}`,
    ...MODULES.map(([name, file]) => `LoadModule ${name} ${APACHE_MODULES_DIR}/${file}`),
    ...listens.map((l) => `Listen ${l}`),
    '',
    // The first VirtualHost of an address is the default: unknown Host names get a 404 there.
    `<VirtualHost ${vhostAddrs}>`,
    '    ServerName unknown.invalid',
    '    RedirectMatch 404 ^/',
    '</VirtualHost>',
  ];
  for (const site of canonicalSites(model)) lines.push('', ...renderSite(site, vhostAddrs));
  return [{ path: APACHE_FILE, text: header(model, '#') + lines.join('\n') + '\n' }];
}

function renderSite(site: BalancerSite, vhostAddrs: string): string[] {
  const name = `bf_${site.id.replaceAll('-', '_')}`;
  const out = [`<VirtualHost ${vhostAddrs}>`, `    ServerName ${site.domains[0] ?? site.id}`];
  if (site.domains.length > 1) out.push(`    ServerAlias ${site.domains.slice(1).join(' ')}`);
  if (site.servers.length === 0) {
    out.push(`    RedirectMatch 503 ^/`, '</VirtualHost>');
    return out;
  }
  // Balancers live inside their VirtualHost, and so does the manager that controls them: a
  // vhost gets its own copy of every inherited balancer, so a manager elsewhere would edit a
  // copy the traffic never uses. docs/balancer.md ("Apache").
  const expr = [`%{REQUEST_STATUS} == '${site.check.status}'`];
  if (site.check.text !== undefined) expr.push(`hc('body') =~ /${literalRegex(site.check.text)}/`);
  out.push(
    `    ProxyHCExpr ${name}_ok {${expr.join(' && ')}}`,
    `    <Proxy "balancer://${name}">`,
    ...site.servers.map((s) => `        ${memberLine(s, site, name)}`),
    `        ProxySet lbmethod=byrequests${site.affinity ? ` stickysession=${site.affinity.cookie}` : ''}`,
    '    </Proxy>',
    '    ProxyPreserveHost On',
    '    ProxyPass "/balancer-manager" "!"',
    `    ProxyPass "/" "balancer://${name}/"`,
    `    ProxyPassReverse "/" "balancer://${name}/"`,
    '    <Location "/balancer-manager">',
    '        SetHandler balancer-manager',
    '        Require local',
    '    </Location>',
  );
  if (site.affinity) {
    // mod_proxy_balancer's documented recipe: the route after the first "." picks the member.
    out.push(`    Header add Set-Cookie "${site.affinity.cookie}=.%{BALANCER_WORKER_ROUTE}e; Path=/; HttpOnly" env=BALANCER_ROUTE_CHANGED`);
  }
  out.push('</VirtualHost>');
  return out;
}

function memberLine(s: BalancerServer, site: BalancerSite, name: string): string {
  const timing = checkTiming(site.check.intervalMs);
  const words = [
    `BalancerMember "http://${hostPort(s.address, s.port)}"`,
    `route=${cookieValue(s.node)}`,
    `loadfactor=${serverWeight(s)}`,
    'connectiontimeout=1',
    'retry=5',
    'hcmethod=GET',
    `hcuri=${site.check.path}`,
    `hcexpr=${name}_ok`,
    `hcinterval=${Math.max(1, Math.round(timing.inter / 1000))}`,
    `hcfails=${timing.fall}`,
    `hcpasses=${timing.rise}`,
  ];
  // N = drain (only sticky sessions already on it), D = disabled.
  if (s.admin === 'drain') words.push('status=+N');
  if (s.admin === 'maint') words.push('status=+D');
  return words.join(' ');
}
