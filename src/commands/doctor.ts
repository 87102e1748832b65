import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { packageRoot } from '../pkg.js';
import { BootfleetError, errorMessage } from '../errors.js';
import { listInterfaces, type InterfaceInfo } from '../net/interfaces.js';
import { probeDhcpServers } from '../dhcp/probe.js';
import { listImages } from '../images/store.js';
import { ADMIN_TOKEN_FILE } from '../auth/secrets.js';
import { foreignOffers } from '../init/plan.js';
import {
  adminTokenCheck, configCheck, dhcpConflictCheck, exitCode, formatResults, imageCheck, interfaceChecks, packageCheck, portCheck, privilegesCheck,
  NEEDED_CAPS, type CheckResult, type PackageFact,
} from '../doctor/checks.js';
import { effectiveCaps, hasCommand, probePort, type PortSpec } from '../doctor/facts.js';

/**
 * `bootfleet doctor [--config f] [--json]`: checks what the controller needs on this machine and
 * prints OK/WARN/FAIL with the exact fix for each; exits 1 when anything FAILs. The decisions are
 * in src/doctor/checks.ts.
 */
export async function doctorCommand(opts: { config: string; json: boolean; probe?: boolean }, out: (s: string) => void = (s) => void process.stdout.write(s)): Promise<CheckResult[]> {
  const configFile = resolve(opts.config);
  const uid = process.geteuid?.() ?? -1;
  const caps = await effectiveCaps();
  const results: CheckResult[] = [];
  let config: Config | undefined;
  try {
    config = await loadConfig(configFile, packageRoot());
    results.push(configCheck(opts.config, { ok: true }));
  } catch (err) {
    if (!(err instanceof BootfleetError)) throw err;
    results.push(configCheck(opts.config, { ok: false, message: err.message, missing: err.code === 'ERR_CONFIG_NOT_FOUND' }));
  }
  results.push(privilegesCheck({ uid, caps, needsNetAdmin: config?.controller.outsideInterface !== undefined }));
  const privileged = uid === 0 || NEEDED_CAPS.every((c) => caps.includes(c));
  if (config) results.push(...(await machineChecks(config, configFile, opts.config, privileged, opts.probe ?? true)));
  out(opts.json ? JSON.stringify({ ok: exitCode(results) === 0, checks: results }, null, 2) + '\n' : formatResults(results));
  process.exitCode = Math.max(Number(process.exitCode ?? 0), exitCode(results));
  return results;
}

async function machineChecks(config: Config, configFile: string, shownFile: string, privileged: boolean, probe: boolean): Promise<CheckResult[]> {
  const c = config.controller;
  const interfaces = await listInterfaces();
  const ifaceResults = interfaceChecks(c, interfaces);
  const results = [...ifaceResults];
  const info = interfaces.find((i) => i.name === c.interface);
  const addressOk = ifaceResults.some((r) => r.name === 'address' && r.verdict !== 'fail');
  for (const spec of portSpecs(config, { device: info !== undefined, address: addressOk })) results.push(portCheck(await probePort(spec, configFile)));
  for (const p of await packages(config)) results.push(packageCheck(p));
  if (config.dhcp.mode !== 'off' && info) results.push(await dhcpCheck(config, info, interfaces, shownFile, privileged, probe));
  const built = await listImages(config.images.store).then((l) => l.map((i) => i.manifest.name)).catch(() => [] as string[]);
  results.push(imageCheck({ defaultImage: config.images.default, built, store: config.images.store }));
  const tokenFile = join(c.stateDir, ADMIN_TOKEN_FILE);
  results.push(adminTokenCheck({ present: existsSync(tokenFile), file: tokenFile, configFile: shownFile }));
  return results;
}

/** The ports the controller will bind, as it binds them. */
function portSpecs(config: Config, can: { device: boolean; address: boolean }): PortSpec[] {
  const c = config.controller;
  const specs: PortSpec[] = [];
  if (can.device && config.dhcp.mode !== 'off') {
    specs.push({ what: `67/udp on ${c.interface} (DHCP)`, proto: 'udp', port: 67, device: c.interface });
    if (config.dhcp.mode === 'proxy') specs.push({ what: `4011/udp on ${c.interface} (PXE boot server)`, proto: 'udp', port: 4011, device: c.interface });
  }
  if (!can.address) return specs;
  specs.push({ what: `${c.tftpPort}/udp on ${c.address} (TFTP)`, proto: 'udp', port: c.tftpPort, address: c.address });
  specs.push({ what: `${c.httpPort}/tcp on ${c.address} (HTTP)`, proto: 'tcp', port: c.httpPort, address: c.address });
  for (const l of config.admin.listen ?? []) {
    const [address = '', port = ''] = l.split(':');
    if (address !== c.address || Number(port) !== c.httpPort) specs.push({ what: `${port}/tcp on ${address} (admin listener)`, proto: 'tcp', port: Number(port), address });
  }
  if (config.balancer?.mode === 'managed') {
    for (const l of config.balancer.listen ?? [`${c.address}:80`]) {
      const [address = '', port = ''] = l.split(':');
      specs.push({ what: `${port}/tcp on ${address} (balancer)`, proto: 'tcp', port: Number(port), address });
    }
  }
  return specs;
}

async function packages(config: Config): Promise<PackageFact[]> {
  const wanted: Array<Omit<PackageFact, 'present'>> = [
    { command: 'mksquashfs', pkg: 'squashfs-tools', why: 'image builds pack the root filesystem with it', required: true },
    { command: 'mmdebstrap', pkg: 'mmdebstrap', why: 'only for Debian images (images/debian-web.yaml)', required: false },
    { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86', why: 'only for the virtual lab (bootfleet lab demo)', required: false },
  ];
  if (config.balancer?.mode === 'managed') wanted.push({ command: config.balancer.binary, pkg: 'haproxy', why: 'balancer.mode managed runs HAProxy', required: true });
  if (config.controller.outsideInterface !== undefined) wanted.push({ command: 'nft', pkg: 'nftables', why: 'controller.outsideInterface keeps the outside network off the cluster with nftables', required: true });
  return Promise.all(wanted.map(async (w) => ({ ...w, present: await hasCommand(w.command) })));
}

async function dhcpCheck(config: Config, info: InterfaceInfo, interfaces: InterfaceInfo[], shownFile: string, privileged: boolean, probe: boolean): Promise<CheckResult> {
  const base = { interface: info.name, mode: config.dhcp.mode, configFile: shownFile };
  if (!probe) return dhcpConflictCheck({ ...base, probe: { kind: 'skipped', why: '--no-probe' } });
  if (!privileged) return dhcpConflictCheck({ ...base, probe: { kind: 'skipped', why: 'needs root' } });
  if (!info.mac) return dhcpConflictCheck({ ...base, probe: { kind: 'skipped', why: `${info.name} has no hardware address` } });
  try {
    const offers = await probeDhcpServers({ interface: info.name, mac: info.mac });
    const own = interfaces.flatMap((i) => i.addresses.map((a) => a.address));
    return dhcpConflictCheck({ ...base, probe: { kind: 'offers', others: foreignOffers(offers, own) } });
  } catch (err) {
    if (!(err instanceof BootfleetError)) throw err;
    return dhcpConflictCheck({ ...base, probe: { kind: 'skipped', why: errorMessage(err) } });
  }
}
