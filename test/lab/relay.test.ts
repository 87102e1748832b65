import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { NetNamespace } from '../../src/lab/netns.js';
import type { Lab } from '../../src/lab/lab.js';
import { ipToInt } from '../../src/net/addr.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';

// A rack on another subnet (docs/networks.md "Racks on other subnets (DHCP relay)"), all real
// parts: the controller on br0 (198.18.0.1/24), a router namespace with IP forwarding running ISC
// dhcrelay (uplink eth0 198.18.0.2 on br0; downlinks rack1 198.19.1.1/24 on bridge br1 and rack9
// 198.19.9.1/24 on br9, a subnet the controller is not configured for). On the rack: busybox
// udhcpc, then a QEMU node that netboots tiny-web through the relay and the router.

const RACK_ROUTER = '198.19.1.1';
const STRAY_ROUTER = '198.19.9.1';
const UPLINK = '198.18.0.2';
const RACK_RANGE = ['198.19.1.100', '198.19.1.199'] as const;
const NODE_MAC = '52:54:00:bf:01:01';
const PROBE_MAC = '52:54:00:bf:01:77';
const STRAY_MAC = '52:54:00:bf:09:77';

async function requireTools(): Promise<void> {
  const r = await execa('sh', ['-c', 'command -v dhcrelay && command -v udhcpc && command -v curl'], { reject: false });
  if (r.exitCode !== 0) throw new Error('the relay lab needs dhcrelay (apt-get install isc-dhcp-relay), udhcpc and curl: run scripts/setup-debian.sh');
}

interface Rack {
  router: NetNamespace;
  /** A namespace with `eth0` (no address) on bridge `bridge`. */
  client: (name: string, bridge: string, mac: string) => Promise<NetNamespace>;
}

/** The router namespace, the rack bridges and the real relay between them and the controller's LAN. */
async function rackBehindRelay(t: ExecutionContext, lab: Lab): Promise<Rack> {
  const router = await lab.addHost('rtr', `${UPLINK}/24`);
  await router.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  for (const [bridge, dev, cidr] of [['br1', 'rack1', `${RACK_ROUTER}/24`], ['br9', 'rack9', `${STRAY_ROUTER}/24`]] as const) {
    await lab.ns.addBridge(bridge); // no address: the lab namespace only switches this segment
    await lab.ns.connect(router, { localDev: `v-${dev}`, remoteDev: dev, bridge, remoteCidr: cidr });
  }
  // The controller reaches the racks through the router (replies to giaddr, TFTP, HTTP).
  await lab.ns.ip(['route', 'add', '198.19.0.0/16', 'via', UPLINK]);
  // ISC dhcrelay: DHCP from the rack downlinks to the controller, giaddr = the downlink's address.
  const relay = lab.spawn('dhcrelay', ['-d', '-4', '-pf', join(lab.logDir, 'dhcrelay.pid'), '-id', 'rack1', '-id', 'rack9', '-iu', 'eth0', lab.address], { name: 'dhcrelay', netns: router });
  await relay.waitFor(/Sending on|Listening on/, 20_000);
  const clients: NetNamespace[] = [];
  t.teardown(() => Promise.all(clients.map((c) => c.remove())));
  return {
    router,
    client: async (name, bridge, mac) => {
      const ns = await NetNamespace.create(`bf-${name}`);
      clients.push(ns);
      await lab.ns.connect(ns, { localDev: `v-${name}`.slice(0, 15), remoteDev: 'eth0', bridge });
      await ns.ip(['link', 'set', 'eth0', 'down']);
      await ns.ip(['link', 'set', 'eth0', 'address', mac]);
      await ns.ip(['link', 'set', 'eth0', 'up']);
      return ns;
    },
  };
}

/** A udhcpc script that logs what the lease said and configures address and default route. */
async function udhcpcScript(lab: Lab): Promise<{ script: string; log: string }> {
  const script = join(lab.logDir, 'udhcpc.sh');
  const log = join(lab.logDir, 'udhcpc-events.log');
  await writeFile(script, [
    '#!/bin/sh',
    'echo "$1 ip=$ip mask=$mask router=$router serverid=$serverid siaddr=$siaddr boot_file=$boot_file" >> "$UDHCPC_LOG"',
    'if [ "$1" = bound ]; then ip addr add "$ip/$mask" dev "$interface"; ip route add default via "$router"; fi',
    '',
  ].join('\n'));
  await chmod(script, 0o755);
  return { script, log };
}

/** `key=value` fields of the last `bound` line udhcpc's script logged. */
async function boundLease(log: string): Promise<Record<string, string>> {
  const line = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('bound ')).at(-1) ?? '';
  return Object.fromEntries(line.split(' ').slice(1).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

function inRackRange(ip: string | undefined): boolean {
  return ip !== undefined && ip !== '' && ipToInt(ip) >= ipToInt(RACK_RANGE[0]) && ipToInt(ip) <= ipToInt(RACK_RANGE[1]);
}

test('lab: a rack on another subnet leases from its relayed range through ISC dhcrelay, fetches its boot file by TFTP and netboots tiny-web through the router; an unconfigured relay gets no answer', async (t) => {
  await requireLab();
  await requireTools();
  t.timeout(480_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  await buildRecipe('tiny-web', 'amd64', store);
  const ctl = await startLabController(lab, {
    dhcp: {
      mode: 'full',
      range: ['198.18.0.100', '198.18.0.199'],
      relays: [{ subnet: '198.19.1.0/24', range: [...RACK_RANGE], router: RACK_ROUTER }],
    },
    config: { images: { store, default: 'tiny-web' }, nodes: [{ mac: NODE_MAC, hostname: 'rack1-web1' }] },
  });
  const rack = await rackBehindRelay(t, lab);
  const { script, log } = await udhcpcScript(lab);

  // A real DHCP client on the rack, saying it is a BIOS PXE ROM so the offer names a boot file.
  const probe = await rack.client('probe', 'br1', PROBE_MAC);
  await probe.exec('udhcpc', ['-i', 'eth0', '-f', '-q', '-n', '-t', '6', '-T', '2', '-s', script, '-V', 'PXEClient:Arch:00000:UNDI:002001'], { env: { UDHCPC_LOG: log }, timeout: 60_000 });
  const lease = await boundLease(log);
  t.true(inRackRange(lease['ip']), `an address of the relayed range, got ${lease['ip'] ?? 'none'}`);
  t.is(lease['mask'], '24');
  t.is(lease['router'], RACK_ROUTER, 'the rack subnet\'s router, not the controller');
  t.is(lease['serverid'], lab.address);
  t.is(lease['siaddr'], lab.address, 'next-server: the controller, reached by routing');
  t.is(lease['boot_file'], 'undionly.kpxe');
  const replies = ctl.process.output().split('\n').filter((l) => l.includes('DHCP reply sent') && l.includes(PROBE_MAC));
  t.true(replies.length >= 2 && replies.every((l) => l.includes(`"to":"${RACK_ROUTER}:67"`)), `OFFER and ACK went to the relay agent, giaddr:67: ${replies.join(' | ')}`);
  // The boot file by TFTP from the controller, through the router.
  const fetched = join(lab.logDir, 'fetched.kpxe');
  await probe.exec('curl', ['-sS', '--max-time', '30', '-o', fetched, `tftp://${lease['siaddr'] ?? ''}/${lease['boot_file'] ?? ''}`]);
  const loader = await readFile(join(store, '.loaders', 'undionly.kpxe'));
  t.true((await readFile(fetched)).equals(loader), 'the TFTP transfer through the router delivered the store\'s iPXE intact');

  // A relay for a subnet nobody configured: no answer, and the controller says why.
  const stray = await rack.client('stray', 'br9', STRAY_MAC);
  const strayLog = join(lab.logDir, 'stray-events.log');
  // udhcpc -n exits non-zero without a lease: expected here.
  await stray.exec('udhcpc', ['-i', 'eth0', '-f', '-q', '-n', '-t', '3', '-T', '1', '-s', script], { env: { UDHCPC_LOG: strayLog }, timeout: 30_000 }).catch(() => undefined);
  t.deepEqual(await boundLease(strayLog), {}, 'no lease on the unconfigured subnet');
  await ctl.process.waitFor(/unknown relay agent/, 10_000);
  const dropped = ctl.process.output().split('\n').filter((l) => l.includes('unknown relay agent'));
  t.true(dropped.some((l) => l.includes(`"giaddr":"${STRAY_ROUTER}"`) && l.includes(STRAY_MAC)), `logged with the relay's address and the client: ${dropped.join(' | ')}`);

  // A real netboot through the relay: iPXE's DHCP, TFTP/HTTP, the initramfs' DHCP, the node agent.
  const node = await lab.addNode({ arch: 'x86_64', mac: NODE_MAC, bridge: 'br1' });
  await node.waitFor(/BOOTFLEET: init done/, 360_000);
  const me = await ctl.node(NODE_MAC);
  t.true(inRackRange(me?.ip), `the node's address is in the relayed range: ${me?.ip ?? 'none'}`);
  const stages = me?.events.map((e) => e.stage) ?? [];
  for (const s of ['dhcp', 'ipxe-script', 'kernel', 'initrd', 'rootfs-fetched', 'init-done'] as const) {
    t.true(stages.includes(s), `boot timeline has ${s} (node routes answered its routed address): ${stages.join(' ')}`);
  }
  // The controller side reaches the node's web server through the router.
  const page = (await lab.ns.exec('curl', ['-sS', '--max-time', '15', `http://${me?.ip ?? ''}/`])).stdout;
  t.regex(page, /<h1>rack1-web1<\/h1>/);
});
