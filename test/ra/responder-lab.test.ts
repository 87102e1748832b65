import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { NetNamespace } from '../../src/lab/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..');
const NODE = [process.execPath, '--import', 'tsx/esm'];

interface Received {
  from: string;
  to: string;
  hopLimit: number;
  ra: { routerLifetime: number; managed: boolean; other: boolean; curHopLimit: number; optionTypes: number[] } | undefined;
}

/** Namespace with DAD off (link-local usable at once) and no kernel RS, so every RS is ours. */
async function ns(t: ExecutionContext, prefix: string): Promise<NetNamespace> {
  const n = await NetNamespace.create(prefix);
  t.teardown(() => n.remove());
  for (const key of ['all', 'default']) {
    await n.exec('sysctl', ['-q', '-w', `net.ipv6.conf.${key}.accept_dad=0`, `net.ipv6.conf.${key}.router_solicitations=0`]);
  }
  return n;
}

async function linkLocal(n: NetNamespace, dev: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const out = await n.ip(['-6', '-o', 'addr', 'show', 'dev', dev, 'scope', 'link']);
    const m = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(out);
    if (m && !out.includes('tentative')) return m[1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no link-local address on ${dev} in ${n.name}`);
}

async function lab(t: ExecutionContext, withOther = false) {
  const server = await ns(t, 'bfr');
  const client = await ns(t, 'bfh');
  await server.addBridge('br0');
  await server.connect(client, { localDev: 'vc0', remoteDev: 'eth0', bridge: 'br0' });
  let other: NetNamespace | undefined;
  if (withOther) {
    other = await ns(t, 'bfx');
    await server.connect(other, { localDev: 'vo0', remoteDev: 'eth0' });
    await linkLocal(other, 'eth0');
  }
  await linkLocal(server, 'br0');
  return { server, client, other, clientAddr: await linkLocal(client, 'eth0') };
}

async function startResponder(t: ExecutionContext, n: NetNamespace, dev: string): Promise<{ adverts: string[] }> {
  const proc = spawn('ip', ['netns', 'exec', n.name, ...NODE, join(here, 'fixtures', 'responder.ts'), dev], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL');
  });
  const adverts: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('responder did not start')), 20_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (line.startsWith('error ')) reject(new Error(line));
      else if (line.startsWith('advert ')) adverts.push(line.slice(7));
    });
  });
  return { adverts };
}

async function solicit(n: NetNamespace, listenMs = 1500): Promise<Received[]> {
  const r = await execa('ip', ['netns', 'exec', n.name, ...NODE, join(here, 'fixtures', 'solicit.ts'), 'eth0', String(listenMs)], { cwd: ROOT, timeout: 30_000 });
  return JSON.parse(r.stdout) as Received[];
}

test('lab: a router solicitation gets a lifetime-0, M=O=0, prefix-less RA unicast to the solicitor with hop limit 255', async (t) => {
  const { server, client, clientAddr } = await lab(t);
  await startResponder(t, server, 'br0');
  const got = await solicit(client);
  t.is(got.length, 1, 'exactly one RA');
  const [ra] = got;
  t.regex(ra!.from, /^fe80::/, 'from a link-local address (RFC 4861 §4.2)');
  t.is(ra!.to, clientAddr, 'sent to the soliciting link-local address, not multicast');
  t.is(ra!.hopLimit, 255);
  t.deepEqual(ra!.ra, { curHopLimit: 0, managed: false, other: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0, optionTypes: [] });
});

test('lab: no RA for a solicitation arriving on another interface', async (t) => {
  const { server, client, other } = await lab(t, true);
  const responder = await startResponder(t, server, 'br0');
  t.deepEqual(await solicit(other!), []);
  t.deepEqual(responder.adverts, []);
  t.is((await solicit(client)).length, 1, 'br0 still answered');
});

test('lab: rdisc6 (ndisc6) sees router lifetime 0 and no DHCPv6 flags', async (t) => {
  if ((await execa('sh', ['-c', 'command -v rdisc6'], { reject: false })).exitCode !== 0) {
    return t.fail('rdisc6 is not installed (Debian package ndisc6): run scripts/setup-debian.sh');
  }
  const { server, client } = await lab(t);
  await startResponder(t, server, 'br0');
  const { stdout } = await client.exec('rdisc6', ['-1', '-r', '2', '-w', '1500', 'eth0']);
  t.regex(stdout, /Router lifetime\s*:\s*0 \(0x0+\) seconds/);
  t.regex(stdout, /Stateful address conf\.\s*:\s*No/);
  t.regex(stdout, /Stateful other conf\.\s*:\s*No/);
  t.notRegex(stdout, /Prefix\s*:/);
});
