import test from 'ava';
import { execa } from 'execa';
import { join } from 'node:path';
import { startLabController, type LabController } from '../../src/lab/lab-controller.js';
import { NetNamespace } from '../../src/lab/netns.js';
import type { Lab } from '../../src/lab/lab.js';
import { packageRoot } from '../../src/pkg.js';
import { rawClient, clientPacket, typeOf, MessageType } from '../dhcp/lab.js';
import { requireLab, withLab } from '../helpers/lab.js';

// Admission in the lab, against the real controller process: a pending machine gets an address
// and nothing bootable from DHCP, TFTP or HTTP, until it is approved; the node registry is capped.

const PXE_BIOS = 'PXEClient:Arch:00000:UNDI:002001';

/** A machine on the lab LAN with no address yet (its own namespace, eth0 on br0). */
async function machine(lab: Lab, name: string): Promise<NetNamespace> {
  const ns = await NetNamespace.create(`bf-${name}`);
  await lab.ns.connect(ns, { localDev: `v-${name}`.slice(0, 15), remoteDev: 'eth0', bridge: lab.bridge });
  return ns;
}

/** DISCOVER → OFFER → REQUEST → ACK as a BIOS PXE ROM; the address is then configured on eth0. */
async function pxeLease(ns: NetNamespace, mac: string, server: string): Promise<{ ip: string; file: string }> {
  const [offer] = await rawClient(ns, { sends: [{ data: clientPacket(MessageType.Discover, mac, { xid: 1, vendorClass: PXE_BIOS }) }], stopAfter: 1 });
  if (!offer) throw new Error(`no OFFER for ${mac}`);
  const ip = offer.packet.yiaddr;
  const [ack] = await rawClient(ns, { sends: [{ data: clientPacket(MessageType.Request, mac, { xid: 2, vendorClass: PXE_BIOS, requested: ip, serverId: server }) }], stopAfter: 1 });
  if (!ack || typeOf(ack.packet) !== MessageType.Ack) throw new Error(`no ACK for ${mac}`);
  await ns.ip(['addr', 'flush', 'dev', 'eth0']);
  await ns.ip(['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  return { ip, file: ack.packet.file };
}

async function curlStatus(ns: NetNamespace, url: string): Promise<string> {
  return (await ns.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', url])).stdout;
}

async function tftpGet(ns: NetNamespace, server: string, file: string): Promise<{ ok: boolean; bytes: number }> {
  const r = await execa('ip', ['netns', 'exec', ns.name, 'curl', '-s', '--max-time', '10', '-o', '-', `tftp://${server}/${file}`], { reject: false, encoding: 'buffer' });
  return { ok: r.exitCode === 0, bytes: r.stdout.length };
}

async function nodeStatus(ctl: LabController, mac: string): Promise<{ status?: string; reason?: string; serial?: string } | undefined> {
  return (await ctl.node(mac)) as { status?: string; reason?: string; serial?: string } | undefined;
}

test('lab: a pending PC gets an address and nothing bootable from DHCP, TFTP or HTTP; once approved it gets its loader and script', async (t) => {
  await requireLab();
  t.timeout(180_000);
  const lab = await withLab(t);
  const ctl = await startLabController(lab, {
    bootFiles: { 'undionly.kpxe': '/usr/lib/ipxe/undionly.kpxe' },
    config: { policy: { admit: { pc: 'approve' } } },
  });
  const pc = await machine(lab, 'pc');
  t.teardown(() => pc.remove());
  const mac = '52:54:00:bf:0a:01';
  const pending = await pxeLease(pc, mac, lab.address);
  t.regex(pending.ip, /^198\.18\.0\.1\d\d$/, 'it gets an address');
  t.is(pending.file, '', 'no boot file in the DHCP answer');
  t.false((await tftpGet(pc, lab.address, 'undionly.kpxe')).ok, 'TFTP refuses the loader');
  t.is(await curlStatus(pc, `${ctl.httpBase}/boot.ipxe?mac=${mac}`), '403', 'no iPXE script');
  t.is(await curlStatus(pc, `${ctl.httpBase}/api/boot/${mac}`), '403', 'no boot info');
  t.like(await nodeStatus(ctl, mac), { status: 'pending' }, 'node list shows it pending');

  await ctl.cli('node', 'add', '--mac', mac, '--hostname', 'pc1');
  const approved = await pxeLease(pc, mac, lab.address);
  t.is(approved.file, 'undionly.kpxe');
  const loader = await tftpGet(pc, lab.address, 'undionly.kpxe');
  t.true(loader.ok && loader.bytes > 10_000, 'TFTP serves the loader');
  t.is(await curlStatus(pc, `${ctl.httpBase}/boot.ipxe?mac=${mac}`), '200');
  t.like(await ctl.node(mac), { status: 'admitted', hostname: 'pc1' });
});

test('lab: the 4097th new MAC is refused (logged, not stored) and the controller keeps answering', async (t) => {
  await requireLab();
  t.timeout(300_000);
  const lab = await withLab(t);
  const ctl = await startLabController(lab, { dhcp: { mode: 'proxy' }, bootFiles: { 'undionly.kpxe': '/usr/lib/ipxe/undionly.kpxe' } });
  const flood = await machine(lab, 'flood');
  t.teardown(() => flood.remove());
  const macOf = (i: number): string => `02:00:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  const discover = (i: number) => ({ data: clientPacket(MessageType.Discover, macOf(i), { xid: i, vendorClass: PXE_BIOS }) });
  const known = async (): Promise<Set<string>> => new Set(JSON.parse(await ctl.cli('node', 'list', '--json')).nodes.map((n: { mac: string }) => n.mac) as string[]);
  // 4096 machines, paced as real clients arrive; DHCP clients retransmit, so any DISCOVER the
  // kernel dropped under the burst is simply sent again.
  let missing = Array.from({ length: 4096 }, (_, i) => i);
  for (let round = 0; round < 5 && missing.length > 0; round++) {
    await rawClient(flood, { sends: missing.map(discover), listenMs: 2000, pauseEvery: 50 });
    const have = await known();
    missing = missing.filter((i) => !have.has(macOf(i)));
  }
  t.deepEqual(missing, [], 'all 4096 machines are known');
  const extra = await rawClient(flood, { sends: [discover(4096)], listenMs: 2000 });
  t.deepEqual(extra, [], 'the 4097th gets no proxy offer');
  const have = await known();
  t.is(have.size, 4096);
  t.false(have.has(macOf(4096)), 'and is not stored');
  t.regex(ctl.process.output(), /node registry full/);
  const again = await rawClient(flood, { sends: [discover(7)], stopAfter: 1, listenMs: 5000 });
  t.is(again[0]?.packet.file, 'undionly.kpxe', 'a known machine is still answered');
  t.is((await execa('ip', ['netns', 'exec', lab.ns.name, 'curl', '-s', '--max-time', '5', `${ctl.httpBase}/healthz`])).stdout.includes('"ok":true'), true);
});

test('lab: the CLI fails with a clear message when the controller is not running, and with a wrong token', async (t) => {
  await requireLab();
  t.timeout(60_000);
  const lab = await withLab(t);
  const ctl = await startLabController(lab);
  const ok = await ctl.cli('node', 'list');
  t.regex(ok, /no nodes have booted yet|MAC/);
  const cli = (env: Record<string, string> = {}) => execa('ip', ['netns', 'exec', lab.ns.name, process.execPath, '--import', 'tsx/esm', join(packageRoot(), 'src', 'cli.ts'), 'node', 'list', '--config', ctl.configFile], { reject: false, cwd: packageRoot(), env });
  const wrong = await cli({ BOOTFLEET_TOKEN: 'f'.repeat(64) });
  t.is(wrong.exitCode, 2);
  t.regex(wrong.stderr, /refused the admin token/);
  await ctl.stop();
  const down = await cli();
  t.is(down.exitCode, 1);
  t.regex(down.stderr, /cannot reach the controller at http:\/\/198\.18\.0\.1:8080 .*is it running\? Start it with: bootfleet controller --config/);
});
