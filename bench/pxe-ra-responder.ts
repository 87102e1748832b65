/**
 * Helper process for bench/pxe.ts (not a benchmark of its own): runs our RouterAdvertResponder
 * (src/ra/) on the interface named by argv[2], inside the namespace it was started in, beside
 * the tuned dnsmasq. Prints `ready` once the socket is open; SIGTERM stops it.
 *
 * dnsmasq cannot be that lever itself: it answers a router solicitation only on an interface
 * with an IPv6 prefix from a dhcp-range, and then advertises that prefix; the lab LAN is
 * IPv4-only (docs/benchmarks.md "PXE boot").
 */
import { RouterAdvertResponder } from '../src/ra/responder.js';
import { createLogger } from '../src/log.js';

const responder = new RouterAdvertResponder({
  interface: process.argv[2] ?? '',
  log: createLogger({ level: process.env['BOOTFLEET_LOG'] ?? 'info' }),
  onAdvert: (e) => process.stdout.write(`advert ${JSON.stringify(e)}\n`),
});
responder.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  responder.stop();
  process.exit(0);
});
