import { intToIp, ipToInt, inSubnet, isIPv4 } from '../net/addr.js';
import type { DhcpOffer } from '../dhcp/probe.js';

/**
 * What `bootfleet init` decides from the operator's answers and what it found on the machine.
 * Pure: the command asks, lists and probes; these functions decide and are unit-tested.
 */

export type DhcpMode = 'full' | 'proxy' | 'off';

export interface InitAnswers {
  /** The inside (cluster) interface: DHCP, TFTP and node HTTP answer only here. */
  interface: string;
  address: string;
  prefix: number;
  dhcp: DhcpMode;
  /** Full mode: the addresses handed out. */
  range?: [string, string];
  /** The outside network's interface (docs/networks.md), if the controller has one. */
  outside?: string;
  nat: boolean;
  /** Admin-only listeners, `address:port`. */
  adminListen?: string[];
  /** Where the managed balancer's frontends listen; absent: no balancer section. */
  balancerListen?: string[];
  stateDir: string;
}

/** The result of asking for DHCP offers on the inside interface. */
export type ProbeOutcome = { kind: 'offers'; offers: DhcpOffer[] } | { kind: 'skipped'; why: string };

/**
 * Offers from servers other than this machine: the controller itself (if it runs) answers the
 * probe too, since a broadcast is also delivered locally.
 */
export function foreignOffers(offers: readonly DhcpOffer[], ownAddresses: readonly string[]): DhcpOffer[] {
  return offers.filter((o) => !ownAddresses.includes(o.server));
}

/** The DHCP mode to propose: proxy when another server hands out addresses on that network, else full. */
export function proposeDhcpMode(probe: ProbeOutcome, ownAddresses: readonly string[]): { mode: DhcpMode; why: string } {
  if (probe.kind === 'skipped') return { mode: 'full', why: `no other DHCP server checked (${probe.why}); full mode hands out addresses itself` };
  const others = foreignOffers(probe.offers, ownAddresses);
  if (others.length === 0) return { mode: 'full', why: 'no other DHCP server answered: full mode hands out addresses itself' };
  const who = others.map((o) => `${o.server} (offered ${o.offered})`).join(', ');
  return { mode: 'proxy', why: `another DHCP server answers on this network: ${who}; proxy mode leaves addresses to it and only boots nodes` };
}

/**
 * A default range for full mode: the upper part of the subnet, as far as possible from the
 * controller's own address (which is usually low): `.100`–`.199` of a /24 at `.1`.
 */
export function defaultRange(address: string, prefix: number): [string, string] | undefined {
  const size = 2 ** (32 - prefix);
  const network = (ipToInt(address) & (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)) >>> 0;
  if (size < 8) return undefined;
  const [lo, hi] = size >= 256 && prefix === 24 ? [100, 199] : [Math.floor(size / 2), size - 2];
  const own = ipToInt(address) - network;
  const first = own >= lo && own <= hi ? own + 1 : lo;
  if (first > hi) return undefined;
  return [intToIp(network + first), intToIp(network + hi)];
}

/** Parses `198.18.0.1/24` (prefix default 24); undefined if it is not one. */
export function parseCidr(text: string): { address: string; prefix: number } | undefined {
  const [address = '', prefix = '24'] = text.trim().split('/');
  const p = Number(prefix);
  if (!isIPv4(address) || !Number.isInteger(p) || p < 8 || p > 30) return undefined;
  return { address, prefix: p };
}

/** Parses `a-b` or `a,b`; undefined if it is not two addresses. */
export function parseRange(text: string): [string, string] | undefined {
  const [a = '', b = ''] = text.split(/\s*[-,]\s*/);
  return isIPv4(a) && isIPv4(b) ? [a, b] : undefined;
}

/** Problems with the answers that the config schema would report less helpfully (the flag to fix). */
export function checkAnswers(a: InitAnswers, interfaces: readonly string[]): string[] {
  const errors: string[] = [];
  if (!interfaces.includes(a.interface)) errors.push(`--interface ${a.interface}: no such interface on this machine (have: ${interfaces.join(', ')})`);
  if (a.outside !== undefined) {
    if (a.outside === a.interface) errors.push(`--outside ${a.outside}: must differ from the inside interface --interface`);
    else if (!interfaces.includes(a.outside)) errors.push(`--outside ${a.outside}: no such interface on this machine`);
  }
  if (a.nat && a.outside === undefined) errors.push('--nat: needs --outside <interface> (the way out for the nodes)');
  if (a.dhcp === 'full') {
    if (!a.range) errors.push(`--range: full DHCP mode needs a range inside ${a.address}/${a.prefix}, e.g. --range ${defaultRange(a.address, a.prefix)?.join('-') ?? 'a-b'}`);
    else if (!a.range.every((ip) => inSubnet(ip, a.address, a.prefix))) errors.push(`--range ${a.range.join('-')}: must lie inside ${a.address}/${a.prefix}`);
  }
  return errors;
}

/** Where state goes by default: beside a config in the current folder, or /var/lib/bootfleet for a system config under /etc. */
export function defaultStateDir(configPath: string): string {
  return configPath.startsWith('/etc/') ? '/var/lib/bootfleet' : './var';
}
