import test, { type ExecutionContext } from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { withLab, requireLab } from '../helpers/lab.js';
import { loadConfig } from '../../src/config.js';
import { packageRoot } from '../../src/pkg.js';
import type { Lab } from '../../src/lab/lab.js';

// `bootfleet init` and `bootfleet doctor` for real, inside a lab namespace whose LAN (br0,
// 198.18.0.1/24) has a second DHCP server: busybox udhcpd in its own namespace, as a home
// router would be. Their DHCPDISCOVER goes out on br0 of the lab namespace only.

const ROOT = packageRoot();
const CLI = [process.execPath, '--import', 'tsx/esm', join(ROOT, 'src', 'cli.ts')];

/** The "home router": udhcpd on 198.18.0.254, handing out .50-.60, knowing nothing of PXE. */
async function withRouter(lab: Lab): Promise<void> {
  const router = await lab.addHost('router', '198.18.0.254/24');
  const conf = join(lab.logDir, 'udhcpd.conf');
  await writeFile(conf, ['start 198.18.0.50', 'end 198.18.0.60', 'interface eth0', `lease_file ${join(lab.logDir, 'udhcpd.leases')}`, 'option subnet 255.255.255.0', ''].join('\n'));
  await writeFile(join(lab.logDir, 'udhcpd.leases'), '');
  const udhcpd = lab.spawn('busybox', ['udhcpd', '-f', conf], { name: 'router-udhcpd', netns: router });
  await udhcpd.waitFor(/started/, 20_000);
}

/** Runs the real CLI inside the lab namespace; never throws on a non-zero exit. */
async function cli(lab: Lab, ...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const [file, argv] = lab.ns.wrap(CLI[0] ?? 'node', [...CLI.slice(1), ...args]);
  const r = await execa(file, argv, { cwd: ROOT, reject: false, timeout: 120_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

async function setup(t: ExecutionContext): Promise<Lab> {
  await requireLab();
  t.timeout(240_000);
  const lab = await withLab(t);
  await withRouter(lab);
  return lab;
}

test('lab: doctor in full mode beside another DHCP server reports the conflict with the fix and exits 1', async (t) => {
  const lab = await setup(t);
  const file = join(lab.logDir, 'full.yaml');
  await writeFile(file, [
    'controller: { interface: br0, address: 198.18.0.1, stateDir: ./state-full }',
    'dhcp: { mode: full, range: [198.18.0.100, 198.18.0.199] }', '',
  ].join('\n'));
  const r = await cli(lab, 'doctor', '--config', file);
  t.log(r.stdout);
  t.is(r.exitCode, 1, r.stderr);
  t.regex(r.stdout, /^FAIL {2}other DHCP servers: another DHCP server answers on br0: 198\.18\.0\.254 \(offered 198\.18\.0\.(5\d|60)\)/m); // anywhere in its .50-.60 range: busybox udhcpd starts its search at a hash of the MAC
  t.regex(r.stdout, /^ {6}fix: set dhcp\.mode: proxy in .*full\.yaml .*or stop the other DHCP server$/m);
  t.regex(r.stdout, /^OK {4}address: br0 has 198\.18\.0\.1\/24$/m);
  t.regex(r.stdout, /^OK {4}port 67\/udp on br0 \(DHCP\): free$/m);
  const json = JSON.parse((await cli(lab, 'doctor', '--config', file, '--json')).stdout) as { ok: boolean; checks: Array<{ name: string; verdict: string }> };
  t.false(json.ok);
  t.is(json.checks.find((c) => c.name === 'other DHCP servers')?.verdict, 'fail');
});

test('lab: init there proposes proxy mode; doctor with that controller running finds its ports held by it and exits 0', async (t) => {
  const lab = await setup(t);
  const file = join(lab.logDir, 'etc', 'bootfleet.yaml');
  const init = await cli(lab, 'init', '--interface', 'br0', '--config', file, '--state-dir', join(lab.logDir, 'state'));
  t.is(init.exitCode, 0, init.stderr);
  t.regex(init.stdout, /another DHCP server answers on this network: 198\.18\.0\.254/);
  t.regex(await readFile(file, 'utf8'), /^ {2}mode: proxy /m);
  const config = await loadConfig(file, ROOT);
  t.is(config.dhcp.mode, 'proxy');
  t.is(config.controller.address, '198.18.0.1', 'the address br0 has');

  const again = await cli(lab, 'init', '--interface', 'br0', '--config', file);
  t.is(again.exitCode, 2, 'an existing file is a usage error');
  t.regex(again.stderr, /already exists: pass --force/);

  const controller = lab.spawn(CLI[0] ?? 'node', [...CLI.slice(1), 'controller', '--config', file], { name: 'controller', cwd: ROOT });
  await controller.waitFor(/controller ready/, 60_000);
  const r = await cli(lab, 'doctor', '--config', file);
  t.log(r.stdout);
  t.is(r.exitCode, 0, r.stdout);
  t.regex(r.stdout, /^OK {4}port 67\/udp on br0 \(DHCP\): held by the running bootfleet controller \(pid \d+/m);
  t.regex(r.stdout, /^OK {4}port 4011\/udp on br0 \(PXE boot server\): held by the running bootfleet controller/m);
  t.regex(r.stdout, /^OK {4}port 8080\/tcp on 198\.18\.0\.1 \(HTTP\): held by the running bootfleet controller/m);
  t.regex(r.stdout, /^OK {4}other DHCP servers: 198\.18\.0\.254 \(offered 198\.18\.0\.(5\d|60)\) hands out addresses on br0; dhcp\.mode proxy leaves that to it$/m);
  t.regex(r.stdout, /^OK {4}admin token: /m);

  // The running controller's /metrics, read without a token, counted doctor's DHCPDISCOVERs.
  const metrics = (await lab.ns.exec('curl', ['-sf', 'http://198.18.0.1:8080/metrics'])).stdout;
  const received = Number(/^bootfleet_dhcp_received_total (\d+)$/m.exec(metrics)?.[1]);
  t.true(received >= 2, `bootfleet_dhcp_received_total ${received}`);
  t.regex(metrics, /^bootfleet_nodes\{state="ready"\} 0$/m);
});
