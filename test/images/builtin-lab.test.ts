import test from 'ava';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import type { NetNamespace } from '../../src/lab/netns.js';
import { builtinLayerRoot } from '../../src/images/layers.js';
import { loadSecrets, nodeSecret } from '../../src/auth/secrets.js';
import { requireLab, withLab } from '../helpers/lab.js';

// The built-in layer's network scripts against real interfaces (a lab host namespace), the real
// `ip` and `wget` of each shell's world (busybox applets, or iproute2 + GNU wget under dash) and
// a real controller. The booted images run them too (test/lab/lease-renewal.test.ts); these
// pin down each decision without a VM.

const REPORT = join(builtinLayerRoot(), 'common', 'usr', 'lib', 'bootfleet', 'report-address');
const UDHCPC_HOOK = join(builtinLayerRoot(), 'busybox', 'etc', 'udhcpc', 'default.script');

/** The node's secret as the controller derives it, from the key the running controller created. */
async function secretOf(stateDir: string, mac: string): Promise<string> {
  return nodeSecret((await loadSecrets(stateDir)).nodeKey, mac);
}

async function addresses(ns: NetNamespace): Promise<string[]> {
  const out = await ns.ip(['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  return [...out.matchAll(/ inet (\S+)/g)].map((m) => m[1] ?? '');
}

test('lab: report-address posts a changed primary address once, retries after a failed post, and is quiet otherwise', async (t) => {
  await requireLab();
  t.timeout(120_000);
  const lab = await withLab(t);
  // The controller leases from .10-.29 here, so each host can ask it for the address the test moves to.
  const ctl = await startLabController(lab, { dhcp: { mode: 'full', range: ['198.18.0.10', '198.18.0.29'], leaseSeconds: 3600 } });
  const addressEvents = async (mac: string) => ((await ctl.node(mac))?.events ?? []).filter((e) => e.stage === 'address');

  for (const [shell, n] of [['busybox', 10], ['dash', 20]] as const) {
    const ns = await lab.addHost(shell === 'busybox' ? 'bbx' : 'dsh', `198.18.0.${n}/24`);
    // networkd sets this on the links it manages; without it removing the primary drops the rest.
    await ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.promote_secondaries=1']);
    const mac = (await ns.exec('cat', ['/sys/class/net/eth0/address'])).stdout.trim();
    const dir = join(lab.logDir, shell);
    await mkdir(join(dir, 'run'), { recursive: true });
    await writeFile(join(dir, 'run', 'lease'), `interface=eth0\nmac=${mac}\nip=198.18.0.${n}\nprefix=24\n`);
    const console = join(dir, 'console');
    const report = async (controller: string) => {
      await writeFile(join(dir, 'cmdline'), `console=ttyS0 bootfleet.controller=${controller} quiet\n`);
      const argv = shell === 'busybox' ? ['sh', REPORT] : [REPORT];
      await ns.exec(shell, argv, { env: { BOOTFLEET_RUN: join(dir, 'run'), BOOTFLEET_CMDLINE: join(dir, 'cmdline'), BOOTFLEET_CONSOLE: console } });
    };

    await report(ctl.httpBase);
    t.is(await ctl.node(mac), undefined, `${shell}: the boot address is nothing to report`);
    await ns.ip(['addr', 'add', `198.18.0.${n + 1}/24`, 'dev', 'eth0']);
    await report(ctl.httpBase);
    t.is(await ctl.node(mac), undefined, `${shell}: a second address while the boot address stays primary is no change`);

    await ns.ip(['addr', 'del', `198.18.0.${n}/24`, 'dev', 'eth0']);
    t.deepEqual(await addresses(ns), [`198.18.0.${n + 1}/24`]);
    // As after a NAK on a booted node: the controller leased it the new address (a real DHCP
    // exchange naming our initramfs in option 60, as its client does; udhcpc's script does
    // nothing, the test set the address), and the node holds the secret its boot info gave it.
    // Only then may it post its events (docs/security.md).
    await ns.exec('busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-s', '/bin/true', '-V', 'bootfleet-initramfs:x86_64', '-t', '5', '-T', '2', '-r', `198.18.0.${n + 1}`]);
    t.is((await ctl.node(mac))?.ip, `198.18.0.${n + 1}`, `${shell}: the controller leased the new address`);
    await writeFile(join(dir, 'run', 'node'), `secret=${await secretOf(ctl.stateDir, mac)}\n`);
    await report('http://198.18.0.1:9');
    t.regex(await readFile(console, 'utf8'), new RegExp(`^BOOTFLEET: address 198\\.18\\.0\\.${n + 1}/24 not accepted by http://198\\.18\\.0\\.1:9 yet`, 'm'));
    await report(ctl.httpBase);
    await report(ctl.httpBase);
    const deadline = Date.now() + 10_000;
    while ((await addressEvents(mac)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    t.deepEqual((await addressEvents(mac)).map((e) => e.detail), [`198.18.0.${n + 1}/24 eth0 was 198.18.0.${n}/24`], `${shell}: one report, after the failed one`);
    t.is((await readFile(join(dir, 'run', 'address'), 'utf8')).trim(), `198.18.0.${n + 1}/24`);
  }
});

test('lab: the busybox udhcpc hook keeps the address through deconfig and renewals, and swaps it for a new lease', async (t) => {
  await requireLab();
  t.timeout(60_000);
  const lab = await withLab(t);
  const ns = await lab.addHost('hook', '198.18.0.30/24');
  // As in the image: busybox ip without /etc/iproute2 (so no protocol names), hidden by a tmpfs
  // in a private mount namespace.
  const hook = (event: string, env: Record<string, string> = {}) => ns.exec('unshare', [
    '-m', 'sh', '-c', 'mount -t tmpfs tmpfs /etc/iproute2 && exec busybox sh "$0" "$@"', UDHCPC_HOOK, event,
  ], { env: { interface: 'eth0', ...env } });
  const lease = (ip: string) => ({ ip, mask: '24', subnet: '255.255.255.0', router: '198.18.0.1', lease: '60', serverid: '198.18.0.1' });
  const defaultRoute = async () => (await ns.ip(['-4', 'route', 'show', 'default'])).trim();

  for (const event of ['deconfig', 'leasefail', 'nak']) {
    await hook(event);
    t.deepEqual(await addresses(ns), ['198.18.0.30/24'], `${event} leaves the address`);
  }
  await hook('renew', lease('198.18.0.30'));
  t.deepEqual(await addresses(ns), ['198.18.0.30/24'], 'a renewal of the same address changes nothing');
  t.is(await defaultRoute(), 'default via 198.18.0.1 dev eth0 proto dhcp src 198.18.0.30');
  await hook('bound', lease('198.18.0.31'));
  t.deepEqual(await addresses(ns), ['198.18.0.31/24'], 'a new lease replaces the old address');
  t.is(await defaultRoute(), 'default via 198.18.0.1 dev eth0 proto dhcp src 198.18.0.31');
  await hook('deconfig');
  t.deepEqual(await addresses(ns), ['198.18.0.31/24']);
});
