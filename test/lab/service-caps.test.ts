import test from 'ava';
import { chmod, chown, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab, requireLab } from '../helpers/lab.js';
import { packageRoot } from '../../src/pkg.js';

// contrib/bootfleet.service runs the controller as an ordinary user with three capabilities
// (CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN), not as root. This runs it the same way
// (setpriv with those ambient capabilities, the bounding set cut to them, no new privileges) in a
// lab namespace with an outside network and NAT, the case that needs all three: DHCP on 67 bound to
// br0, TFTP on 69, the nftables table and IPv4 forwarding.

const NOBODY = 65534;
const CAPS = '+net_raw,+net_bind_service,+net_admin';

test('lab: the controller runs as a non-root user with only the unit\'s capabilities, outside network and NAT included', async (t) => {
  await requireLab();
  t.timeout(120_000);
  const lab = await withLab(t);
  await lab.ns.ip(['link', 'add', 'out0', 'type', 'veth', 'peer', 'name', 'out1']);
  await lab.ns.ip(['addr', 'add', '198.19.0.1/24', 'dev', 'out0']);
  await lab.ns.ip(['link', 'set', 'out0', 'up']);
  // A folder the unprivileged user owns, as StateDirectory= gives the service.
  const dir = await mkdtemp(join(tmpdir(), 'bf-svc-'));
  t.teardown(async () => (await import('node:fs/promises')).rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  await chown(dir, NOBODY, NOBODY);
  const config = join(dir, 'bootfleet.yaml');
  await writeFile(config, [
    `controller: { interface: br0, address: 198.18.0.1, stateDir: ${join(dir, 'state')}, outsideInterface: out0, nat: true }`,
    'dhcp: { mode: full, range: [198.18.0.100, 198.18.0.199] }', '',
  ].join('\n'));
  const controller = lab.spawn('setpriv', [
    `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', `--inh-caps=-all,${CAPS}`, `--ambient-caps=-all,${CAPS}`, `--bounding-set=-all,${CAPS}`, '--no-new-privs',
    process.execPath, '--import', 'tsx/esm', join(packageRoot(), 'src', 'cli.ts'), 'controller', '--config', config,
  ], { name: 'controller-nobody', cwd: packageRoot(), env: { HOME: dir, BOOTFLEET_LOG: 'info' } });
  await controller.waitFor(/controller ready/, 60_000);
  t.regex(controller.output(), /firewall between the cluster and the outside network in place/);
  const { stdout: status } = await lab.ns.exec('sh', ['-c', `grep -E '^(Uid|CapEff)' /proc/${controller.pid}/status`]);
  t.regex(status, /^Uid:\s+65534\b/m, 'it is not root');
  t.regex(status, /^CapEff:\s+0000000000003400$/m, 'exactly CAP_NET_BIND_SERVICE, CAP_NET_ADMIN and CAP_NET_RAW');
  const { stdout: sockets } = await lab.ns.exec('ss', ['-H', '-lnup']);
  t.regex(sockets, /0\.0\.0\.0%br0:67\b/, 'DHCP bound to br0');
  t.regex(sockets, /198\.18\.0\.1:69\b/, 'TFTP bound');
  t.is((await lab.ns.exec('cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '1', 'NAT turned forwarding on');
  const nft = await lab.ns.exec('/usr/sbin/nft', ['list', 'table', 'inet', 'bootfleet']);
  t.regex(nft.stdout, /masquerade/, 'the nftables table is in place, with NAT');
});
