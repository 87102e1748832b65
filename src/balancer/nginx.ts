import type { BalancerModel, BalancerServer, BalancerSite, RenderedFile } from './model.js';
import { canonicalSites, header, hostPort, serverWeight } from './names.js';

/**
 * A complete nginx.conf (nginx 1.22, open source) for `nginx -c <stateDir>/nginx.conf`: pid, logs
 * and temp paths all in stateDir, one upstream + one server{} per site, Host routing by
 * server_name. Open-source nginx has passive checks only and no drain (docs/balancer.md).
 */
export const NGINX_FILE = 'nginx.conf';

/** Passive failure accounting (ngx_http_upstream_module): 2 failures within 5 s ban a server for 5 s. */
const MAX_FAILS = 2;
const FAIL_TIMEOUT = '5s';

export function renderNginx(model: BalancerModel): RenderedFile[] {
  const d = model.paths.stateDir.replace(/\/+$/, '');
  const sites = canonicalSites(model);
  const listens = model.listen.map((l) => hostPort(l.address, l.port));
  const lines: string[] = [
    'worker_processes 1;',
    `pid ${d}/nginx.pid;`,
    `error_log ${d}/nginx-error.log warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '    access_log off;',
    `    client_body_temp_path ${d}/nginx-client-body;`,
    `    proxy_temp_path ${d}/nginx-proxy;`,
    `    fastcgi_temp_path ${d}/nginx-fastcgi;`,
    `    uwsgi_temp_path ${d}/nginx-uwsgi;`,
    `    scgi_temp_path ${d}/nginx-scgi;`,
    '    server_names_hash_bucket_size 128;',
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    // The default 60 s connect timeout would hold a request on a powered-off node for a minute.
    '    proxy_connect_timeout 1s;',
    `    proxy_read_timeout ${Math.ceil((model.timeouts?.serverMs ?? 10_000) / 1000)}s;`,
    '    proxy_next_upstream error timeout;',
    '    proxy_next_upstream_tries 3;',
    '',
    '    server {',
    ...listens.map((l) => `        listen ${l} default_server;`),
    '        server_name _;',
    '        default_type text/plain;',
    '        return 404 "unknown site\\n";',
    '    }',
  ];
  for (const site of sites) lines.push('', ...renderSite(site, listens).map((l) => (l ? `    ${l}` : l)));
  lines.push('}');
  return [{ path: NGINX_FILE, text: header(model, '#') + lines.join('\n') + '\n' }];
}

function renderSite(site: BalancerSite, listens: string[]): string[] {
  const v = site.id.replaceAll('-', '_');
  const server = (body: string[]): string[] => [
    'server {',
    ...listens.map((l) => `    listen ${l};`),
    `    server_name ${site.domains.join(' ')};`,
    ...body.map((b) => `    ${b}`),
    '}',
  ];
  if (site.servers.length === 0) return server(['default_type text/plain;', `return 503 "site ${site.id} has no servers\\n";`]);
  const out: string[] = [];
  const cookie = site.affinity?.cookie;
  if (cookie) {
    // nginx OSS cannot insert a cookie itself (sticky is commercial): a client without one gets
    // a fresh random key ($request_id) that is hashed to pick the server and set as its cookie.
    out.push(
      `map $cookie_${cookie} $bf_key_${v} { "" $request_id; default $cookie_${cookie}; }`,
      `map $cookie_${cookie} $bf_setcookie_${v} { "" "${cookie}=$request_id; Path=/; HttpOnly"; default ""; }`,
    );
  }
  out.push(`upstream up_${v} {`);
  if (cookie) out.push(`    hash $bf_key_${v} consistent;`);
  for (const s of site.servers) out.push(`    ${serverLine(s)}`);
  out.push('    keepalive 16;', '}');
  const location = ['location / {', `    proxy_pass http://up_${v};`];
  if (cookie) location.push(`    add_header Set-Cookie $bf_setcookie_${v};`);
  location.push('}');
  return [...out, ...server(location)];
}

function serverLine(s: BalancerServer): string {
  // No drain in nginx 1.22 OSS: drain and maint both become `down` (no new requests).
  const down = s.admin === 'ready' ? '' : ' down';
  return `server ${hostPort(s.address, s.port)} weight=${serverWeight(s)} max_fails=${MAX_FAILS} fail_timeout=${FAIL_TIMEOUT}${down};`;
}
