import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { BootfleetError, UsageError, errorMessage } from '../errors.js';
import { parseConfig } from '../config.js';
import { packageRoot } from '../pkg.js';
import { writeFileAtomic } from '../store/atomic.js';
import { listInterfaces, formatInterfaces, type InterfaceInfo } from '../net/interfaces.js';
import { probeDhcpServers, type DhcpOffer } from '../dhcp/probe.js';
import { checkAnswers, defaultRange, defaultStateDir, parseCidr, parseRange, proposeDhcpMode, foreignOffers, type DhcpMode, type InitAnswers, type ProbeOutcome } from '../init/plan.js';
import { renderConfig } from '../init/render.js';

export interface InitFlags {
  config: string;
  force: boolean;
  interface?: string;
  /** `198.18.0.1/24`; default the interface's first IPv4 address. */
  address?: string;
  dhcp?: DhcpMode;
  range?: string;
  outside?: string;
  nat?: boolean;
  adminListen?: string[];
  balancerListen?: string[];
  stateDir?: string;
  /** false: do not ask the network for DHCP offers. */
  probe: boolean;
  /** Ask questions; default: when stdin is a terminal and no --interface was given. */
  interactive?: boolean;
}

/** What init reads from the machine; tests of the decisions pass their own. */
export interface InitDeps {
  interfaces: () => Promise<InterfaceInfo[]>;
  probe: (iface: string, mac: string) => Promise<DhcpOffer[]>;
  input: Readable;
  output: Writable;
  isRoot: boolean;
}

const realDeps = (): InitDeps => ({
  interfaces: listInterfaces,
  probe: (iface, mac) => probeDhcpServers({ interface: iface, mac }),
  input: process.stdin,
  output: process.stdout,
  isRoot: process.geteuid?.() === 0,
});

/**
 * `bootfleet init`: writes a commented bootfleet.yaml for this machine, from questions (on a
 * terminal) or flags. It lists the interfaces, asks for DHCP offers on the inside interface only
 * (src/dhcp/probe.ts) and proposes proxy mode when another server answers. The file is checked
 * with the config loader's own validation before it is written; an existing file is kept unless
 * --force.
 */
export async function initCommand(flags: InitFlags, over: Partial<InitDeps> = {}): Promise<string> {
  const deps = { ...realDeps(), ...over };
  const file = resolve(flags.config);
  if (existsSync(file) && !flags.force) throw new UsageError(`${flags.config} already exists: pass --force to overwrite it, or --config <another file>`);
  const interfaces = await deps.interfaces();
  const interactive = flags.interactive ?? ((deps.input as { isTTY?: boolean }).isTTY === true && flags.interface === undefined);
  const say = (s: string): void => void deps.output.write(s + '\n');
  const ask = interactive ? asker(deps.input, deps.output) : undefined;
  try {
    say('Network interfaces on this machine:\n' + indent(formatInterfaces(interfaces)));
    const answers = await gather(flags, interfaces, deps, ask, say);
    const ownAddresses = interfaces.flatMap((i) => i.addresses.map((a) => a.address));
    const errors = checkAnswers(answers.answers, interfaces.map((i) => i.name));
    if (errors.length > 0) throw new UsageError(`cannot write ${flags.config}:\n  - ${errors.join('\n  - ')}`);
    const text = renderConfig(answers.answers, { probe: answers.probe, ownAddresses, host: hostname() });
    const checked = parseConfig(parseYaml(text), dirname(file), packageRoot());
    if (!checked.ok) throw new UsageError(`the answers give an invalid config, nothing written:\n  - ${checked.errors.join('\n  - ')}`);
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomic(file, text);
    say(`wrote ${flags.config}\nnext: bootfleet doctor --config ${flags.config}    (then: bootfleet controller --config ${flags.config})`);
    return text;
  } finally {
    ask?.close();
  }
}

interface Asker {
  (question: string, fallback?: string): Promise<string>;
  close: () => void;
}

/** Questions on the terminal; lines typed ahead are kept for the next question. */
function asker(input: Readable, output: Writable): Asker {
  const rl = createInterface({ input, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (question: string, fallback?: string): Promise<string> => {
    output.write(`${question}${fallback !== undefined && fallback !== '' ? ` [${fallback}]` : ''}: `);
    const next = await lines.next();
    if (next.done) throw new UsageError('no answer (input ended): run bootfleet init with flags instead, see bootfleet init --help');
    const answer = String(next.value).trim();
    return answer === '' ? (fallback ?? '') : answer;
  };
  return Object.assign(ask, { close: () => rl.close() });
}

async function gather(flags: InitFlags, interfaces: InterfaceInfo[], deps: InitDeps, ask: Asker | undefined, say: (s: string) => void): Promise<{ answers: InitAnswers; probe: ProbeOutcome }> {
  const candidates = interfaces.filter((i) => !i.loopback);
  const guess = flags.interface ?? (candidates.find((i) => i.addresses.length > 0) ?? candidates[0])?.name ?? '';
  const iface = ask ? await ask('Inside (cluster) interface: DHCP, TFTP and node boots happen here only', guess) : flags.interface;
  if (!iface) throw new UsageError('--interface: name the inside (cluster) interface, e.g. --interface br0 (see the list above)');
  const info = interfaces.find((i) => i.name === iface);
  if (!info) throw new UsageError(`--interface ${iface}: no such interface on this machine (see the list above)`);
  const own = info.addresses[0];
  const cidrText = flags.address ?? (own ? `${own.address}/${own.prefix}` : undefined);
  const cidrAnswer = ask ? await ask(`Its address/prefix`, cidrText) : cidrText;
  if (!cidrAnswer) throw new UsageError(`--address: ${iface} has no IPv4 address; give the one it will have, e.g. --address 198.18.0.1/24`);
  const cidr = parseCidr(cidrAnswer);
  if (!cidr) throw new UsageError(`--address ${cidrAnswer}: use address/prefix, e.g. 198.18.0.1/24 (prefix 8-30)`);

  const probe = await probeFor(flags, info, deps, say);
  const ownAddresses = interfaces.flatMap((i) => i.addresses.map((a) => a.address));
  const proposal = proposeDhcpMode(probe, ownAddresses);
  say(proposal.why);
  const modeText = flags.dhcp ?? (ask ? await ask('DHCP mode (full, proxy, off)', proposal.mode) : proposal.mode);
  if (modeText !== 'full' && modeText !== 'proxy' && modeText !== 'off') throw new UsageError(`--dhcp ${modeText}: use full, proxy or off`);
  const mode: DhcpMode = modeText;
  if (mode === 'full' && probe.kind === 'offers' && foreignOffers(probe.offers, ownAddresses).length > 0) {
    say('warning: full mode next to another DHCP server: two servers will hand out addresses on one network; use proxy, or stop the other server');
  }
  let range: [string, string] | undefined;
  if (mode === 'full') {
    const fallback = defaultRange(cidr.address, cidr.prefix)?.join('-');
    const text = flags.range ?? (ask ? await ask('Addresses to hand out (first-last)', fallback) : fallback);
    range = text ? parseRange(text) : undefined;
    if (!range) throw new UsageError(`--range ${text ?? ''}: use first-last, e.g. --range ${fallback ?? '198.18.0.100-198.18.0.199'}`);
  }
  const outsideText = flags.outside ?? (ask ? await ask('Outside interface (home/office network), or none', 'none') : undefined);
  const outside = outsideText && outsideText !== 'none' ? outsideText : undefined;
  let nat = flags.nat ?? false;
  if (outside && ask && flags.nat === undefined) nat = /^y/i.test(await ask('Let nodes reach the outside through this machine (NAT)? yes/no', 'no'));
  const outsideAddress = interfaces.find((i) => i.name === outside)?.addresses[0]?.address;
  const adminListen = flags.adminListen ?? (ask ? listAnswer(await ask('Admin-only listeners address:port (none: the admin API is on the cluster listener)', outsideAddress ? `${outsideAddress}:8443` : 'none')) : undefined);
  const balancerListen = flags.balancerListen ?? (ask ? listAnswer(await ask('Load balancer listens on address:port (none: no balancer)', `${outsideAddress ?? cidr.address}:80`)) : undefined);
  return {
    probe,
    answers: {
      interface: iface, address: cidr.address, prefix: cidr.prefix, dhcp: mode, ...(range ? { range } : {}),
      ...(outside ? { outside } : {}), nat,
      ...(adminListen ? { adminListen } : {}), ...(balancerListen ? { balancerListen } : {}),
      stateDir: flags.stateDir ?? defaultStateDir(resolve(flags.config)),
    },
  };
}

/** Asks for DHCP offers on the chosen interface, and only there; says why when it cannot. */
async function probeFor(flags: InitFlags, info: InterfaceInfo, deps: InitDeps, say: (s: string) => void): Promise<ProbeOutcome> {
  if (!flags.probe) return { kind: 'skipped', why: '--no-probe' };
  if (!deps.isRoot) return { kind: 'skipped', why: 'needs root: run init as root, or check later with bootfleet doctor' };
  if (!info.mac) return { kind: 'skipped', why: `${info.name} has no hardware address` };
  say(`asking for DHCP offers on ${info.name} (4 s) …`);
  try {
    return { kind: 'offers', offers: await deps.probe(info.name, info.mac) };
  } catch (err) {
    if (err instanceof BootfleetError) return { kind: 'skipped', why: errorMessage(err) };
    throw err;
  }
}

function listAnswer(text: string): string[] | undefined {
  const items = text.split(/[\s,]+/).filter((s) => s !== '' && s !== 'none');
  return items.length > 0 ? items : undefined;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}
