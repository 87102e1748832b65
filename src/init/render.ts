import type { InitAnswers, ProbeOutcome } from './plan.js';
import { foreignOffers } from './plan.js';

/**
 * The commented bootfleet.yaml `bootfleet init` writes (docs/configuration.md has every key).
 * Written as text rather than through a YAML library so each key keeps its comment.
 */
/** A line with its comment in one column, so the file reads as a table. */
function c(text: string, comment: string): string {
  return `${text.padEnd(36)} # ${comment}`;
}

export function renderConfig(a: InitAnswers, found: { probe: ProbeOutcome; ownAddresses: readonly string[]; host: string }): string {
  const list = (items: readonly string[]): string => `[${items.join(', ')}]`;
  const lines = [
    `# bootfleet.yaml for ${found.host}, written by \`bootfleet init\`.`,
    '# Every key: docs/configuration.md. Check it with: bootfleet doctor --config <this file>',
    '',
    'controller:',
    c(`  interface: ${a.interface}`, `inside (cluster) network: DHCP, TFTP and node HTTP answer here only`),
    c(`  address: ${a.address}`, `this machine's address on ${a.interface}`),
    `  prefix: ${a.prefix}`,
    c('  httpPort: 8080', 'boot files, node API and (unless admin.listen) the admin API'),
    c(`  stateDir: ${a.stateDir}`, `leases, nodes, admin token: what must survive a restart`),
  ];
  if (a.outside !== undefined) {
    lines.push(
      c(`  outsideInterface: ${a.outside}`, `outside network: only admin.listen and balancer.listen face it (docs/networks.md)`),
      c(`  nat: ${a.nat}`, `${a.nat ? 'nodes reach the outside through this machine (nftables masquerade)' : 'true lets nodes reach the outside through this machine'}`),
    );
  }
  lines.push('', 'dhcp:', c(`  mode: ${a.dhcp}`, `full: hand out addresses; proxy: only boot PXE clients beside another DHCP server; off`));
  lines.push(...probeComment(found.probe, found.ownAddresses));
  if (a.range) lines.push(c(`  range: ${list(a.range)}`, `addresses for nodes, inside ${a.address}/${a.prefix}`));
  if (a.nat && a.dhcp === 'full') lines.push(`  # router defaults to ${a.address} with nat: true (the nodes' way out)`);
  lines.push('  leaseSeconds: 3600');
  if (a.adminListen) {
    lines.push('', 'admin:', c(`  listen: ${list(a.adminListen)}`, `admin API and web UI only: no boot files, no node routes`));
  } else {
    lines.push('', '# admin:', '#   listen: [203.0.113.5:8443]   # an admin-only listener (e.g. on the outside network)');
  }
  if (a.balancerListen) {
    lines.push('', 'balancer:', '  kind: haproxy', c('  mode: managed', 'the controller runs HAProxy (package haproxy)'), c(`  listen: ${list(a.balancerListen)}`, `where visitors reach the sites`));
  } else {
    lines.push('', '# balancer:               # the web cluster\'s load balancer (docs/balancer.md)', '#   kind: haproxy', '#   mode: managed', `#   listen: [${a.address}:80]`);
  }
  lines.push(
    '',
    'images:',
    c('  nodeOverlay: node', 'overlays/<name>/ rendered for each node at boot'),
    '  # default: tiny-web      # what nodes boot; build it first: bootfleet image build images/tiny-web.yaml',
    '',
    'policy:',
    c('  admit: { rpi: approve, pc: open }', 'Pis wait for `bootfleet node add`/`approve`; PCs boot at once'),
    '',
    'metrics:',
    c('  requireToken: false', 'true: GET /metrics needs the admin token (docs/metrics.md)'),
    '',
  );
  return lines.join('\n');
}

function probeComment(probe: ProbeOutcome, own: readonly string[]): string[] {
  if (probe.kind === 'skipped') return [`  # no check for another DHCP server was made (${probe.why})`];
  const others = foreignOffers(probe.offers, own);
  if (others.length === 0) return ['  # no other DHCP server answered on this interface when init asked'];
  return [`  # another DHCP server answered when init asked: ${others.map((o) => o.server).join(', ')}`];
}
