import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabController, type LabController, type LabControllerOptions } from '../../src/lab/lab-controller.js';
import type { Lab } from '../../src/lab/lab.js';
import type { NetNamespace } from '../../src/lab/netns.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';

// Issue 15: every image keeps the lease it booted with. tiny-web (udhcpc) and debian-web
// (systemd-networkd) boot side by side with the shortest lease the config allows (60 s, so T1
// is 30 s) and are watched through the controller's own DHCP log (debug level in the lab: each
// received message with its UDP source and ciaddr, each reply with its xid), its lease file and
// the nodes' pages. The second test makes the controller refuse the address on renewal (NAK)
// and follows both nodes to their new addresses.

const TINY = { mac: '52:54:00:bf:15:01', hostname: 'tiny1' };
const DEB = { mac: '52:54:00:bf:15:02', hostname: 'deb1' };
const WATCH_MS = 180_000;

/**
 * A router, as on any real LAN (the controller's address; nothing is routed): the initramfs
 * marks its default route `proto dhcp`, which is how networkd recognises a leased address it
 * did not configure and asks for it back instead of starting over.
 */
const DHCP = { mode: 'full', range: ['198.18.0.100', '198.18.0.199'], leaseSeconds: 60, router: '198.18.0.1' };

interface Booted {
  lab: Lab;
  ctl: LabController;
  ctlOptions: LabControllerOptions;
  client: NetNamespace;
  /** The address each node booted with (initramfs DHCP), by MAC. */
  bootIp: Map<string, string>;
  /** When both nodes had reported init-done. */
  upAt: number;
}

/** Builds both images, starts the controller with 60 s leases and boots one node of each. */
async function bootBoth(t: ExecutionContext): Promise<Booted> {
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  await buildRecipe('tiny-web', 'amd64', store);
  await buildRecipe('debian-web', 'amd64', store);
  const ctlOptions: LabControllerOptions = {
    dir: join(lab.logDir, 'ctl'),
    dhcp: DHCP,
    config: { images: { store, default: 'tiny-web' }, nodes: [TINY, { ...DEB, image: 'debian-web' }] },
  };
  const ctl = await startLabController(lab, ctlOptions);
  const tiny = await lab.addNode({ arch: 'x86_64', mac: TINY.mac });
  const deb = await lab.addNode({ arch: 'x86_64', mac: DEB.mac, memoryMiB: 1024 });
  // systemd under TCG is slow; both print this once their services run and init-done is posted.
  await Promise.all([tiny.waitFor(/BOOTFLEET: init done/, 300_000), deb.waitFor(/BOOTFLEET: init done/, 420_000)]);
  const bootIp = new Map<string, string>();
  for (const { mac } of [TINY, DEB]) {
    const ip = (await ctl.node(mac))?.ip;
    if (!ip) throw new Error(`the controller knows no address for ${mac}`);
    bootIp.set(mac, ip);
  }
  const client = await lab.addHost('client', '198.18.0.250/24');
  return { lab, ctl, ctlOptions, client, bootIp, upAt: Date.now() };
}

/** One pino line of the controller's log. */
interface LogLine {
  time: number;
  msg: string;
  mac?: string;
  type?: string;
  ip?: string;
  xid?: number;
  from?: string;
  ciaddr?: string;
  to?: string;
}

function logLines(ctl: LabController): LogLine[] {
  return ctl.process.output().split('\n').flatMap((l) => {
    if (!l.startsWith('{')) return [];
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return []; // a line still being written
    }
  });
}

/**
 * What the controller saw of one node's DHCP: the messages it received, each with the reply it
 * sent to it (the next reply with the same xid: the server logs a message before answering it;
 * a client may reuse one xid for all its renewals), and all replies.
 */
function dhcpOf(ctl: LabController, mac: string): { received: Array<LogLine & { reply?: LogLine }>; replies: LogLine[] } {
  const lines = logLines(ctl).filter((l) => l.mac === mac);
  const received = lines.flatMap((l, i) => {
    if (l.msg !== 'DHCP message received') return [];
    const reply = lines.slice(i + 1).find((r) => r.msg === 'DHCP reply sent' && r.xid === l.xid);
    const next = lines.slice(i + 1).find((r) => r.msg === 'DHCP message received' && r.xid === l.xid);
    // A reply logged after the next message of the same xid answers that one.
    return [reply && (!next || lines.indexOf(reply) < lines.indexOf(next)) ? { ...l, reply } : l];
  });
  return { received, replies: lines.filter((l) => l.msg === 'DHCP reply sent') };
}

async function page(client: NetNamespace, ip: string): Promise<string> {
  const r = await client.exec('curl', ['-sS', '--max-time', '10', `http://${ip}/`]).catch((err: unknown) => ({ stdout: `(curl failed: ${String(err)})` }));
  return r.stdout;
}

test.serial('lab: tiny-web and debian-web renew their 60 s leases at T1 from their own address and keep it for three minutes', async (t) => {
  await requireLab();
  t.timeout(20 * 60_000);
  const { ctl, client, bootIp, upAt } = await bootBoth(t);
  await new Promise((r) => setTimeout(r, WATCH_MS));

  for (const { mac, hostname } of [TINY, DEB]) {
    const ip = bootIp.get(mac) ?? '';
    const { received, replies } = dhcpOf(ctl, mac);
    // RFC 2131 §4.3.2 RENEWING: a REQUEST unicast from the client's own address with ciaddr set.
    const renewals = received.filter((m) => m.type === 'request' && m.time >= upAt && m.from === ip && m.ciaddr === ip);
    const acked = renewals.filter((m) => m.reply?.type === 'ack' && m.reply.ip === ip && m.reply.to === `${ip}:68`);
    t.log(`${hostname} ${ip}: ${renewals.length} renewal requests in ${WATCH_MS / 1000} s, ${acked.length} ACKed`);
    t.true(acked.length >= 3, `${hostname}: at least three renewals ACKed (T1 = 30 s); saw ${renewals.length} requests, ${acked.length} ACKed`);
    t.deepEqual(renewals.slice(0, -1).filter((m) => !acked.includes(m)).map((m) => m.xid), [], `${hostname}: every renewal but a last one in flight is ACKed`);
    t.deepEqual(replies.filter((r) => r.type === 'nak'), [], `${hostname}: never refused`);
    t.deepEqual(replies.filter((r) => r.ip !== undefined && r.ip !== ip).map((r) => r.ip), [], `${hostname}: never offered another address`);

    const node = await ctl.node(mac);
    t.is(node?.ip, ip, `${hostname}: same address`);
    t.false(node?.events.some((e) => e.stage === 'address'), `${hostname}: no address change reported`);
    const leases = JSON.parse(await readFile(join(ctl.stateDir, 'leases.json'), 'utf8')) as { leases: Array<{ mac: string; ip: string; state: string; expiresAt: number }> };
    const lease = leases.leases.find((l) => l.mac === mac);
    t.is(lease?.ip, ip);
    t.is(lease?.state, 'bound');
    t.true((lease?.expiresAt ?? 0) > Date.now(), `${hostname}: the lease is live ${WATCH_MS / 1000} s after boot (renewed), expires ${new Date(lease?.expiresAt ?? 0).toISOString()}`);
    t.regex(await page(client, ip), new RegExp(`<h1>${hostname}</h1>`), `${hostname}: the page still answers on ${ip}`);
  }

  // networkd took the lease over instead of starting again: an INIT-REBOOT REQUEST (RFC 2131
  // §4.3.2: option 50 = the boot address, no ciaddr, no DISCOVER before it) after switch_root.
  const deb = dhcpOf(ctl, DEB.mac).received;
  const discoverXids = new Set(deb.filter((m) => m.type === 'discover').map((m) => m.xid));
  const initReboot = deb.filter((m) => m.type === 'request' && m.ciaddr === '0.0.0.0' && m.ip === bootIp.get(DEB.mac) && !discoverXids.has(m.xid));
  t.true(initReboot.length >= 1, 'debian-web: systemd-networkd asked for the boot address back (INIT-REBOOT)');
});

test.serial('lab: a node whose renewal is refused (NAK) takes the new address and reports it to the controller (tiny-web and debian-web)', async (t) => {
  await requireLab();
  t.timeout(20 * 60_000);
  const { lab, ctl, ctlOptions, client, bootIp } = await bootBoth(t);

  // The administrator reserves other addresses for both nodes and restarts the controller. Their
  // old leases no longer fit (leases.ts drops them on load), so the next renewal is refused.
  const reserved = new Map([[TINY.mac, '198.18.0.150'], [DEB.mac, '198.18.0.151']]);
  await ctl.stop();
  const ctl2 = await startLabController(lab, {
    ...ctlOptions,
    name: 'controller-2',
    dhcp: { ...DHCP, reservations: [...reserved].map(([mac, address]) => ({ mac, address })) },
  });

  // tiny-web: udhcpc hears the broadcast NAK while RENEWING (its next T1, within 30 s). debian-web:
  // networkd's RENEWING socket is bound to the lease address and does not receive the broadcast
  // NAK, so it hears the NAK to its REBINDING request at T2 (52 s) instead.
  const deadline = Date.now() + 300_000;
  for (const { mac, hostname } of [TINY, DEB]) {
    const want = reserved.get(mac) ?? '';
    let node = await ctl2.node(mac);
    while (!node?.events.some((e) => e.stage === 'address') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 3000));
      node = await ctl2.node(mac);
    }
    const old = bootIp.get(mac) ?? '';
    const { replies } = dhcpOf(ctl2, mac);
    t.true(replies.some((r) => r.type === 'nak' && r.ip === old), `${hostname}: the controller refused ${old} (NAK)`);
    t.true(replies.some((r) => r.type === 'ack' && r.ip === want), `${hostname}: and then leased ${want}`);
    const reports = node?.events.filter((e) => e.stage === 'address').map((e) => e.detail) ?? [];
    t.is(reports.length, 1, `${hostname}: one address report: ${reports.join(' | ')}`);
    t.regex(reports[0] ?? '', new RegExp(`^${want.replaceAll('.', '\\.')}/24 \\S+ was ${old.replaceAll('.', '\\.')}/24$`));
    t.is(node?.ip, want, `${hostname}: the controller moved the node to ${want}`);
    t.regex(await page(client, want), new RegExp(`<h1>${hostname}</h1>`), `${hostname}: the page answers on ${want}`);
    t.regex(await page(client, old), /curl failed/, `${hostname}: and no longer on ${old}`);
  }
});
