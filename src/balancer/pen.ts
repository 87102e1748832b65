import { ConfigError } from '../errors.js';
import type { BalancerModel, BalancerSite, RenderedFile } from './model.js';
import { canonicalSites, header } from './names.js';

/**
 * pen 0.34 is a layer-4 balancer with one listening address per process and no Host routing and
 * no active checks, so each site becomes its own pen process on the site's own `listen`
 * address:port. Rendered per site: `pen-<site>.argv`, the argument vector one per line (exec it
 * without a shell), and `pen.sh`, a POSIX shell script starting them all with quoted arguments.
 */
/** The argv for one site's pen, or undefined when no server of it is in rotation. */
export function penArgv(model: BalancerModel, site: BalancerSite): string[] | undefined {
  const d = model.paths.stateDir.replace(/\/+$/, '');
  if (!site.listen) throw new ConfigError('balancer model', [`sites["${site.id}"].listen: pen cannot route by Host, so every site needs its own { address, port }`]);
  const problems = [site.listen, ...site.servers]
    .filter((e) => e.address.includes(':'))
    .map((e) => `sites["${site.id}"]: ${e.address}: pen's host:port:… server syntax has no IPv6 form; use IPv4`);
  if (problems.length > 0) throw new ConfigError('balancer model', problems);
  const members = site.servers.filter((s) => s.admin === 'ready');
  if (members.length === 0) return undefined;
  return [
    'pen',
    '-f', // foreground: the caller supervises it
    ...(site.affinity ? [] : ['-r']), // no -r: pen's own stickiness by client address (no cookies at L4)
    '-t', '1', // connect timeout (s), default 5
    '-b', '5', // a server that refused a connection is skipped for 5 s, default 30
    // pen refuses a control socket when running as root unless it drops to another user; the
    // socket is made before the switch, so root's penctl can still use it.
    '-u', 'nobody',
    '-C', `${d}/pen-${site.id}.ctl`, // penctl socket: drain with `server N blacklist T`
    `${site.listen.address}:${site.listen.port}`,
    ...members.map((s) => `${s.address}:${s.port}`),
  ];
}

export function renderPen(model: BalancerModel): RenderedFile[] {
  const files: RenderedFile[] = [];
  const script = ['#!/bin/sh', header(model, '#').trimEnd(), 'set -e'];
  for (const site of canonicalSites(model)) {
    const argv = penArgv(model, site);
    if (!argv) {
      script.push(`# site ${site.id}: no server in rotation, not started`);
      continue;
    }
    files.push({ path: `pen-${site.id}.argv`, text: argv.join('\n') + '\n' });
    script.push(`${argv.map(shellQuote).join(' ')} &`);
  }
  script.push('wait');
  files.push({ path: 'pen.sh', text: script.join('\n') + '\n', mode: 0o755 });
  return files;
}

/** POSIX single quotes; a `'` becomes '\''. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
