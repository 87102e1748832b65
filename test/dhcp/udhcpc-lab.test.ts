/**
 * Interop with busybox udhcpc, a real client: lease, renew, release, restart persistence and
 * reservations, all inside namespaces this file creates.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chmod, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLab, startServer, rawClient, clientPacket, typeOf, have, MessageType } from './lab.js';
import type { NetNamespace } from '../../src/lab/netns.js';
import { ipToInt } from '../../src/net/addr.js';
import type { ServerFixtureArgs } from './fixtures/server.js';

const UDHCPC = 'udhcpc';

/** Temp dir with a udhcpc script that logs each event and configures the address. */
async function workDir(t: ExecutionContext): Promise<{ dir: string; script: string; logFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-udhcpc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'script.sh');
  const logFile = join(dir, 'events.log');
  await writeFile(script, [
    '#!/bin/sh',
    'echo "$1 ip=$ip mask=$mask serverid=$serverid lease=$lease router=$router" >> "$UDHCPC_LOG"',
    'case "$1" in',
    '  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;',
    '  deconfig) ip addr flush dev "$interface" ;;',
    'esac',
    '',
  ].join('\n'));
  await chmod(script, 0o755);
  return { dir, script, logFile };
}

async function logLines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

async function waitForLog(file: string, pred: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = (await logLines(file)).find(pred);
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`udhcpc log never matched; log: ${(await logLines(file)).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One udhcpc run that quits once it has a lease (-q), without releasing it. */
async function udhcpcOnce(ns: NetNamespace, w: { script: string; logFile: string }): Promise<string> {
  await ns.exec(UDHCPC, ['-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', w.script], { env: { UDHCPC_LOG: w.logFile }, timeout: 30_000 });
  const bound = (await logLines(w.logFile)).filter((l) => l.startsWith('bound')).at(-1) ?? '';
  return /ip=(\S+)/.exec(bound)?.[1] ?? '';
}

function serverArgs(stateDir: string, extra: Partial<ServerFixtureArgs> = {}): ServerFixtureArgs {
  return {
    interface: 'br0', serverAddress: '198.18.0.1', subnetMask: '255.255.255.0', mode: 'full',
    range: ['198.18.0.100', '198.18.0.150'], leaseSeconds: 600, router: '198.18.0.1', dns: ['198.18.0.1'], stateDir, ...extra,
  };
}

test('lab: udhcpc gets a lease in the range, renews it, releases it, and leases.json shows the release', async (t) => {
  if (!(await have(UDHCPC))) return t.fail('udhcpc is not installed: run scripts/setup-debian.sh');
  const lab = await makeLab(t);
  const w = await workDir(t);
  const server = await startServer(t, lab.server, serverArgs(w.dir));
  const mac = (await lab.client.ip(['-br', 'link', 'show', 'eth0'])).split(/\s+/)[2] ?? '';

  const proc = spawn('ip', ['netns', 'exec', lab.client.name, UDHCPC, '-i', 'eth0', '-f', '-t', '5', '-T', '1', '-s', w.script], {
    env: { ...process.env, UDHCPC_LOG: w.logFile }, stdio: 'ignore',
  });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL');
  });
  const bound = await waitForLog(w.logFile, (l) => l.startsWith('bound'));
  const ip = /ip=(\S+)/.exec(bound)?.[1] ?? '';
  t.true(ipToInt(ip) >= ipToInt('198.18.0.100') && ipToInt(ip) <= ipToInt('198.18.0.150'), `${ip} is in the range`);
  t.regex(bound, /mask=24 serverid=198\.18\.0\.1 lease=600 router=198\.18\.0\.1/);

  proc.kill('SIGUSR1'); // busybox udhcpc: renew now (unicast REQUEST from ciaddr)
  const renew = await waitForLog(w.logFile, (l) => l.startsWith('renew'));
  t.true(renew.includes(`ip=${ip}`), 'renewed the same address');
  t.like(await server.waitForEvent((e) => e.type === 'ack' && server.events.filter((x) => x.type === 'ack').length >= 2), { mac, ip });

  proc.kill('SIGUSR2'); // release
  t.like(await server.waitForEvent((e) => e.type === 'release'), { mac, ip });
  await server.stop();
  const state = JSON.parse(await readFile(join(w.dir, 'leases.json'), 'utf8')) as { leases: Array<{ mac: string; ip: string; state: string }> };
  t.like(state.leases.find((l) => l.mac === mac), { ip, state: 'released' });
});

test('lab: a lease survives a server restart: the same client gets the same address', async (t) => {
  if (!(await have(UDHCPC))) return t.fail('udhcpc is not installed: run scripts/setup-debian.sh');
  const lab = await makeLab(t);
  const w = await workDir(t);
  let server = await startServer(t, lab.server, serverArgs(w.dir));
  // Another client takes the lowest address first, so "lowest free" would NOT give udhcpc its
  // old address after a restart that forgot the leases.
  const [offer] = await rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Discover, '52:54:00:77:77:77', { xid: 1 }) }], stopAfter: 1 });
  await rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Request, '52:54:00:77:77:77', { xid: 2, requested: offer!.packet.yiaddr, serverId: '198.18.0.1' }) }], stopAfter: 1 });
  const first = await udhcpcOnce(lab.client, w);
  t.is(first, '198.18.0.101');
  await server.stop();
  t.deepEqual((await readdir(w.dir)).filter((f) => f.startsWith('.leases.json')), [], 'no temp file left: written atomically');

  // Forget the second client's lease for 198.18.0.100 to make the test strict: release it.
  server = await startServer(t, lab.server, serverArgs(w.dir));
  await rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Release, '52:54:00:77:77:77', { xid: 3, ciaddr: '198.18.0.100', serverId: '198.18.0.1', broadcast: false }) }], listenMs: 300 });
  await server.waitForEvent((e) => e.type === 'release');
  await lab.client.ip(['addr', 'flush', 'dev', 'eth0']);
  t.is(await udhcpcOnce(lab.client, w), first, 'the restarted server remembered the lease');
  await server.stop();
});

test('lab: a static reservation gives the reserved address to that MAC', async (t) => {
  if (!(await have(UDHCPC))) return t.fail('udhcpc is not installed: run scripts/setup-debian.sh');
  const lab = await makeLab(t);
  const w = await workDir(t);
  await lab.client.ip(['link', 'set', 'eth0', 'address', '52:54:00:aa:bb:cc']);
  const server = await startServer(t, lab.server, serverArgs(w.dir, { reservations: { '52:54:00:aa:bb:cc': '198.18.0.42' } }));
  t.is(await udhcpcOnce(lab.client, w), '198.18.0.42');
  await server.stop();
});

test('lab: a plain DISCOVER is not answered with another client\'s reserved address', async (t) => {
  const lab = await makeLab(t);
  const w = await workDir(t);
  const server = await startServer(t, lab.server, serverArgs(w.dir, { range: ['198.18.0.100', '198.18.0.100'], reservations: { '52:54:00:aa:bb:cc': '198.18.0.100' } }));
  const replies = await rawClient(lab.client, { sends: [{ data: clientPacket(MessageType.Discover, '52:54:00:01:01:01', { xid: 5 }) }], listenMs: 1000 });
  t.deepEqual(replies.map((r) => typeOf(r.packet)), [], 'the only address in the range is reserved: no offer');
  await server.stop();
});
