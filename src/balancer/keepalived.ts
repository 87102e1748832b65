import { ConfigError } from '../errors.js';
import type { BalancerModel, BalancerServer, BalancerSite, RenderedFile } from './model.js';
import { canonicalSites, header, literalRegex, serverWeight } from './names.js';

/**
 * keepalived.conf (keepalived 2.2.7) for the layer-4 case: Linux IPVS forwards TCP and never sees
 * Host, so each site needs its own `listen` address:port (a VIP per site). keepalived's HTTP_GET
 * checker sends the site's primary domain as Host (`virtualhost`), checks the status and, for a
 * text, a regex over the body (Debian builds it with REGEX). docs/balancer.md ("keepalived").
 */
export const KEEPALIVED_FILE = 'keepalived.conf';

export function renderKeepalived(model: BalancerModel): RenderedFile[] {
  const lines = ['global_defs {', '    router_id bootfleet', '}'];
  for (const site of canonicalSites(model)) lines.push('', ...renderSite(site));
  return [{ path: KEEPALIVED_FILE, text: header(model, '#') + lines.join('\n') + '\n' }];
}

function renderSite(site: BalancerSite): string[] {
  if (!site.listen) throw new ConfigError('balancer model', [`sites["${site.id}"].listen: IPVS cannot route by Host, so every site needs its own { address, port } (a VIP)`]);
  // keepalived has no maintenance state: a server in maint is left out; drain is weight 0
  // ("quiescent": existing connections continue, no new ones).
  const members = site.servers.filter((x) => x.admin !== 'maint');
  // `keepalived --config-test` fails on a virtual server without real servers.
  if (members.length === 0) return [`# site ${site.id}: no server outside maintenance, no virtual_server`];
  const out = [
    `# site ${site.id}: ${site.domains.join(' ')}`,
    `virtual_server ${site.listen.address} ${site.listen.port} {`,
    '    delay_loop 1',
    '    lvs_sched wlc',
    // NAT: replies pass back through this host, so nodes need it as their gateway. DR would need
    // the VIP on every node's loopback and ARP suppression there (docs/balancer.md).
    '    lvs_method NAT',
    '    protocol TCP',
    `    virtualhost ${site.domains[0] ?? site.id}`,
  ];
  for (const s of members) out.push(...realServer(s, site).map((l) => `    ${l}`));
  out.push('}');
  return out;
}

function realServer(s: BalancerServer, site: BalancerSite): string[] {
  const url = ['url {', `    path ${site.check.path}`, `    status_code ${site.check.status}`];
  if (site.check.text !== undefined) url.push(`    regex ${literalRegex(site.check.text)}`);
  url.push('}');
  return [
    `real_server ${s.address} ${s.port} {`,
    `    weight ${s.admin === 'drain' ? 0 : serverWeight(s)}`,
    '    HTTP_GET {',
    ...url.map((l) => `        ${l}`),
    '        connect_timeout 1',
    '        retry 1',
    '        delay_before_retry 1',
    '    }',
    '}',
  ];
}
