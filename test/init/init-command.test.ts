import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { initCommand, type InitDeps } from '../../src/commands/init.js';
import { loadConfig } from '../../src/config.js';
import type { InterfaceInfo } from '../../src/net/interfaces.js';
import type { DhcpOffer } from '../../src/dhcp/probe.js';

// The decisions and the file of `bootfleet init`, with this machine's interfaces and the network's
// answer replaced (test/lab/init-doctor.test.ts runs it for real in a namespace).

const INTERFACES: InterfaceInfo[] = [
  { name: 'br0', mac: '52:54:00:aa:bb:cc', up: true, loopback: false, addresses: [{ address: '198.18.0.1', prefix: 24 }] },
  { name: 'eth1', mac: '52:54:00:aa:bb:cd', up: true, loopback: false, addresses: [{ address: '198.19.0.5', prefix: 24 }] },
  { name: 'lo', up: true, loopback: true, addresses: [{ address: '127.0.0.1', prefix: 8 }] },
];

function fakes(offers: DhcpOffer[] = [], input: Readable = Readable.from([])): Partial<InitDeps> & { printed: () => string; probed: string[] } {
  const output = new PassThrough();
  let printed = '';
  output.on('data', (c: Buffer) => (printed += c.toString()));
  const probed: string[] = [];
  return {
    interfaces: async () => INTERFACES,
    probe: async (iface) => {
      probed.push(iface);
      return offers;
    },
    input, output, isRoot: true,
    printed: () => printed,
    probed,
  };
}

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bf-init-'));
}

test('flags: a full-mode config that loads, probing only the inside interface', async (t) => {
  const file = join(await tmp(), 'bootfleet.yaml');
  const deps = fakes();
  await initCommand({ config: file, force: false, probe: true, interface: 'br0', range: '198.18.0.120-198.18.0.140' }, deps);
  t.deepEqual(deps.probed, ['br0']);
  const config = await loadConfig(file, process.cwd());
  t.is(config.controller.interface, 'br0');
  t.is(config.controller.address, '198.18.0.1', 'the interface\'s own address by default');
  t.is(config.dhcp.mode, 'full');
  t.deepEqual(config.dhcp.range, ['198.18.0.120', '198.18.0.140']);
  t.is(config.balancer, undefined);
  t.regex(await readFile(file, 'utf8'), /^ {2}mode: full +# full: hand out addresses/m, 'keys carry comments');
});

test('another DHCP server answering makes proxy the mode, and says who answered', async (t) => {
  const file = join(await tmp(), 'bootfleet.yaml');
  const deps = fakes([{ server: '198.18.0.254', offered: '198.18.0.50' }, { server: '198.18.0.1', offered: '198.18.0.150' }]);
  await initCommand({ config: file, force: false, probe: true, interface: 'br0' }, deps);
  const config = await loadConfig(file, process.cwd());
  t.is(config.dhcp.mode, 'proxy');
  t.regex(deps.printed(), /another DHCP server answers on this network: 198\.18\.0\.254 \(offered 198\.18\.0\.50\)/);
  t.regex(await readFile(file, 'utf8'), /# another DHCP server answered when init asked: 198\.18\.0\.254$/m);
});

test('two networks by flags: outside interface, NAT, admin and balancer listeners', async (t) => {
  const file = join(await tmp(), 'bootfleet.yaml');
  await initCommand({
    config: file, force: false, probe: false, interface: 'br0', address: '198.18.0.1/24', dhcp: 'full', outside: 'eth1', nat: true,
    adminListen: ['198.19.0.5:8443'], balancerListen: ['198.19.0.5:80'],
  }, fakes());
  const config = await loadConfig(file, process.cwd());
  t.is(config.controller.outsideInterface, 'eth1');
  t.true(config.controller.nat);
  t.deepEqual(config.admin.listen, ['198.19.0.5:8443']);
  t.deepEqual(config.balancer?.listen, ['198.19.0.5:80']);
  t.is(config.balancer?.mode, 'managed');
  t.deepEqual(config.dhcp.range, ['198.18.0.100', '198.18.0.199']);
});

test('questions on a terminal: every answer lands in the file, empty answers take the default', async (t) => {
  const file = join(await tmp(), 'bootfleet.yaml');
  // interface, address, dhcp mode, range, outside, nat, admin listen, balancer listen
  const answers = ['br0', '', 'full', '', 'eth1', 'yes', '', 'none'].join('\n') + '\n';
  const deps = fakes([], Readable.from([answers]));
  await initCommand({ config: file, force: false, probe: true, interactive: true }, deps);
  const config = await loadConfig(file, process.cwd());
  t.is(config.controller.address, '198.18.0.1');
  t.deepEqual(config.dhcp.range, ['198.18.0.100', '198.18.0.199']);
  t.is(config.controller.outsideInterface, 'eth1');
  t.true(config.controller.nat);
  t.deepEqual(config.admin.listen, ['198.19.0.5:8443'], 'the default admin listener is on the outside address');
  t.is(config.balancer, undefined);
  t.regex(deps.printed(), /Inside \(cluster\) interface.*\[br0\]/);
  t.regex(deps.printed(), /br0 +52:54:00:aa:bb:cc +up +198\.18\.0\.1\/24/, 'the interfaces are listed');
});

test('an existing file is kept unless --force', async (t) => {
  const file = join(await tmp(), 'bootfleet.yaml');
  await writeFile(file, 'mine: true\n');
  const err = await t.throwsAsync(initCommand({ config: file, force: false, probe: false, interface: 'br0' }, fakes()));
  t.regex(err?.message ?? '', /already exists: pass --force/);
  t.is(await readFile(file, 'utf8'), 'mine: true\n');
  await initCommand({ config: file, force: true, probe: false, interface: 'br0' }, fakes());
  t.is((await loadConfig(file, process.cwd())).controller.interface, 'br0');
});

test('bad answers are refused with the flag to fix and nothing is written', async (t) => {
  const dir = await tmp();
  const file = join(dir, 'bootfleet.yaml');
  const cases: Array<[Parameters<typeof initCommand>[0], RegExp]> = [
    [{ config: file, force: false, probe: false, interface: 'wlan9' }, /--interface wlan9: no such interface/],
    [{ config: file, force: false, probe: false, interface: 'br0', address: 'x' }, /--address x: use address\/prefix/],
    [{ config: file, force: false, probe: false, interface: 'br0', nat: true }, /--nat: needs --outside/],
    [{ config: file, force: false, probe: false, interface: 'br0', range: '198.19.0.1-198.19.0.9' }, /--range .* inside 198\.18\.0\.1\/24/],
    [{ config: file, force: false, probe: false, interface: 'br0', adminListen: ['nowhere'] }, /admin\.listen\.0: must be address:port/],
    [{ config: file, force: false, probe: false }, /--interface: name the inside/],
  ];
  for (const [flags, message] of cases) {
    const err = await t.throwsAsync(initCommand(flags, fakes()));
    t.regex(err?.message ?? '', message);
  }
  await t.throwsAsync(readFile(file, 'utf8'), undefined, 'no file was written');
});

test('without root no probe is sent, and the file says so', async (t) => {
  const file = join(await tmp(), 'bootfleet.yaml');
  const deps = { ...fakes(), isRoot: false };
  await initCommand({ config: file, force: false, probe: true, interface: 'br0' }, deps);
  t.deepEqual(deps.probed, []);
  t.regex(await readFile(file, 'utf8'), /# no check for another DHCP server was made \(needs root/);
});

test('--state-dir lands in the file', async (t) => {
  const file = join(await tmp(), 'b.yaml');
  await initCommand({ config: file, force: false, probe: false, interface: 'br0', stateDir: '/var/lib/bootfleet' }, fakes());
  t.is((await loadConfig(file, process.cwd())).controller.stateDir, '/var/lib/bootfleet');
});
