import type { DhcpOffer } from '../dhcp/probe.js';
import type { InterfaceInfo } from '../net/interfaces.js';

/**
 * `bootfleet doctor`'s decisions (docs/cli.md "doctor"). Pure: each check gets the facts that
 * src/doctor/facts.ts gathered and says OK, WARN or FAIL, and for anything not OK the exact
 * command or edit that fixes it. Only FAIL makes doctor exit non-zero.
 */

export type Verdict = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  verdict: Verdict;
  detail: string;
  fix?: string;
}

const ok = (name: string, detail: string): CheckResult => ({ name, verdict: 'ok', detail });
const bad = (verdict: 'warn' | 'fail', name: string, detail: string, fix: string): CheckResult => ({ name, verdict, detail, fix });

/** Capabilities the controller uses: SO_BINDTODEVICE and raw ICMPv6, ports below 1024, nftables. */
export const NEEDED_CAPS = ['CAP_NET_RAW', 'CAP_NET_BIND_SERVICE'] as const;

export function privilegesCheck(f: { uid: number; caps: readonly string[]; needsNetAdmin: boolean }): CheckResult {
  if (f.uid === 0) return ok('privileges', 'running as root');
  const needed = [...NEEDED_CAPS, ...(f.needsNetAdmin ? ['CAP_NET_ADMIN'] : [])];
  const missing = needed.filter((c) => !f.caps.includes(c));
  if (missing.length === 0) return ok('privileges', `not root, with ${needed.join(', ')}`);
  return bad('fail', 'privileges', `not root and without ${missing.join(', ')}: the controller cannot bind its DHCP/TFTP ports to the interface`,
    'run as root (sudo bootfleet …), or as the systemd service in contrib/bootfleet.service (docs/service.md), which grants exactly these capabilities');
}

export function configCheck(file: string, loaded: { ok: true } | { ok: false; message: string; missing: boolean }): CheckResult {
  if (loaded.ok) return ok('config', `${file} is valid`);
  if (loaded.missing) return bad('fail', 'config', `${file} cannot be read`, `write one: sudo bootfleet init --config ${file}`);
  return bad('fail', 'config', loaded.message, `edit ${file}: each line above names the key to fix (docs/configuration.md)`);
}

/** The interface exists, is up and carries the configured address. */
export function interfaceChecks(c: { interface: string; address: string; prefix: number; outsideInterface?: string | undefined }, interfaces: readonly InterfaceInfo[]): CheckResult[] {
  const results: CheckResult[] = [];
  const info = interfaces.find((i) => i.name === c.interface);
  const names = interfaces.filter((i) => !i.loopback).map((i) => i.name).join(', ');
  if (!info) {
    results.push(bad('fail', 'interface', `controller.interface ${c.interface} does not exist on this machine`, `set controller.interface to one of: ${names || '(none found)'}; or create it, e.g. a bridge: ip link add ${c.interface} type bridge && ip link set ${c.interface} up`));
  } else {
    results.push(info.up ? ok('interface', `${c.interface} exists and is up`) : bad('fail', 'interface', `${c.interface} is down`, `ip link set ${c.interface} up`));
    const has = info.addresses.find((a) => a.address === c.address);
    if (!has) {
      const now = info.addresses.map((a) => `${a.address}/${a.prefix}`).join(', ') || 'no IPv4 address';
      results.push(bad('fail', 'address', `${c.interface} does not have controller.address ${c.address} (it has ${now})`, `ip addr add ${c.address}/${c.prefix} dev ${c.interface}   (and make it permanent in your network configuration), or set controller.address`));
    } else if (has.prefix !== c.prefix) {
      results.push(bad('warn', 'address', `${c.interface} has ${c.address}/${has.prefix}, the config says prefix ${c.prefix}`, `set controller.prefix: ${has.prefix}`));
    } else {
      results.push(ok('address', `${c.interface} has ${c.address}/${c.prefix}`));
    }
  }
  if (c.outsideInterface !== undefined && !interfaces.some((i) => i.name === c.outsideInterface)) {
    results.push(bad('fail', 'outside interface', `controller.outsideInterface ${c.outsideInterface} does not exist`, `set controller.outsideInterface to one of: ${names}, or remove it`));
  }
  return results;
}

/** A port the controller needs, and what trying to bind it found. */
export interface PortFact {
  /** e.g. "67/udp on br0 (DHCP)" */
  what: string;
  result: { kind: 'free' } | { kind: 'denied' } | { kind: 'in-use'; holder?: { pid: number; command: string; ours: boolean } } | { kind: 'error'; message: string };
}

export function portCheck(p: PortFact): CheckResult {
  const name = `port ${p.what}`;
  switch (p.result.kind) {
    case 'free':
      return ok(name, 'free');
    case 'denied':
      return bad('fail', name, 'cannot be checked without privileges', 'run bootfleet doctor as root');
    case 'error':
      return bad('fail', name, `cannot be bound: ${p.result.message}`, 'check the address in the config exists on this machine (see the address check)');
    case 'in-use': {
      const h = p.result.holder;
      if (h?.ours) return ok(name, `held by the running bootfleet controller (pid ${h.pid}: ${h.command})`);
      if (!h) return bad('fail', name, 'in use by another program', `find it with: ss -lnptu | grep ':${portNumber(p.what)} ' — then stop it, or change the port in the config`);
      return bad('fail', name, `in use by ${h.command} (pid ${h.pid})`, `stop it: systemctl stop ${serviceGuess(h.command)} (or kill ${h.pid}); or change the port in the config`);
    }
  }
}

function portNumber(what: string): string {
  return what.split('/')[0] ?? what;
}

/** dnsmasq → dnsmasq, /usr/sbin/in.tftpd → tftpd-hpa: the usual services behind a command. */
function serviceGuess(command: string): string {
  const base = command.split(/\s+/)[0]?.split('/').pop() ?? command;
  if (base === 'in.tftpd') return 'tftpd-hpa';
  if (base === 'dhcpd') return 'isc-dhcp-server';
  return base;
}

export interface PackageFact {
  /** The command looked for, e.g. `haproxy`. */
  command: string;
  /** The Debian package that has it. */
  pkg: string;
  present: boolean;
  /** Why it is needed; `required`: FAIL when missing, else WARN. */
  why: string;
  required: boolean;
}

export function packageCheck(p: PackageFact): CheckResult {
  const name = `package ${p.pkg}`;
  if (p.present) return ok(name, `${p.command} found; ${p.why}`);
  return bad(p.required ? 'fail' : 'warn', name, `${p.command} not found: ${p.why}`, `apt-get install -y ${p.pkg}`);
}

/** Another DHCP server on the interface: what the probe heard, in the light of dhcp.mode. */
export function dhcpConflictCheck(f: { interface: string; mode: 'full' | 'proxy' | 'off'; configFile: string; probe: { kind: 'offers'; others: readonly DhcpOffer[] } | { kind: 'skipped'; why: string } }): CheckResult {
  const name = 'other DHCP servers';
  if (f.probe.kind === 'skipped') return bad('warn', name, `not checked on ${f.interface}: ${f.probe.why}`, 'run bootfleet doctor as root (it sends one DHCPDISCOVER on that interface only)');
  const others = f.probe.others.map((o) => `${o.server} (offered ${o.offered})`).join(', ');
  if (f.probe.others.length === 0) {
    if (f.mode === 'proxy') return bad('warn', name, `none answered on ${f.interface}, but dhcp.mode is proxy: nodes get an address only from another server`, `if there is none, set dhcp.mode: full and dhcp.range in ${f.configFile}`);
    return ok(name, `none answered on ${f.interface}`);
  }
  if (f.mode === 'full') {
    return bad('fail', name, `another DHCP server answers on ${f.interface}: ${others}; two servers handing out addresses on one network break it`,
      `set dhcp.mode: proxy in ${f.configFile} (the other server keeps handing out addresses, bootfleet only boots the nodes), or stop the other DHCP server`);
  }
  return ok(name, `${others} hands out addresses on ${f.interface}; dhcp.mode ${f.mode} leaves that to it`);
}

export function imageCheck(f: { defaultImage?: string | undefined; built: readonly string[]; store: string }): CheckResult {
  if (f.defaultImage === undefined) {
    return bad('warn', 'default image', 'images.default is not set: nodes boot only boot.default, or nothing', `build one: bootfleet image build images/tiny-web.yaml --store ${f.store}; then set images.default: tiny-web`);
  }
  const name = f.defaultImage.split('@')[0] ?? f.defaultImage;
  if (f.built.includes(name)) return ok('default image', `${f.defaultImage} is built in ${f.store}`);
  return bad('fail', 'default image', `images.default ${f.defaultImage} is not built in ${f.store}`, `bootfleet image build images/${name}.yaml --store ${f.store}`);
}

export function adminTokenCheck(f: { present: boolean; file: string; configFile: string }): CheckResult {
  if (f.present) return ok('admin token', `${f.file} exists`);
  return bad('warn', 'admin token', `${f.file} does not exist yet: CLI commands and the web UI cannot log in`, `start the controller once (it writes the token): bootfleet controller --config ${f.configFile}`);
}

/** Exit code: 1 when any check failed. */
export function exitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.verdict === 'fail') ? 1 : 0;
}

/** "OK    interface  br0 exists and is up" lines, each not-OK one followed by its fix. */
export function formatResults(results: readonly CheckResult[]): string {
  return results.map((r) => {
    const head = `${r.verdict.toUpperCase().padEnd(5)} ${r.name}: ${r.detail}`;
    return r.fix ? `${head}\n      fix: ${r.fix}` : head;
  }).join('\n') + '\n';
}

/**
 * Whether the process holding a port is the controller of this config: its command line runs
 * `controller` with `--config` naming the same file (relative names resolved against its cwd).
 */
export function isControllerOf(argv: readonly string[], cwd: string, configFile: string, resolvePath: (cwd: string, p: string) => string): boolean {
  if (!argv.includes('controller')) return false;
  // Without --config the controller reads bootfleet.yaml in its working folder.
  if (!argv.some((a) => a === '--config' || a === '-c' || a.startsWith('--config='))) return resolvePath(cwd, 'bootfleet.yaml') === configFile;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const value = a === '--config' || a === '-c' ? argv[i + 1] : a.startsWith('--config=') ? a.slice('--config='.length) : undefined;
    if (value !== undefined && resolvePath(cwd, value) === configFile) return true;
  }
  return false;
}
