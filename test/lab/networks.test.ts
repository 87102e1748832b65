import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabController, type LabController } from '../../src/lab/lab-controller.js';
import { NetNamespace } from '../../src/lab/netns.js';
import type { Lab } from '../../src/lab/lab.js';
import { rawClient, clientPacket, MessageType } from '../dhcp/lab.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';
import { overlaysWithCgi } from '../helpers/overlay.js';

// Two networks (docs/networks.md): the cluster LAN inside (198.18.0.0/24, br0) and an outside
// network (198.18.1.0/24: the controller's second interface out0 and a client host), where only
// the balancer's frontend and the admin listener face users.

const MAC = '52:54:00:bf:00:01';
const OUTSIDE = '198.18.1.1';
const CLIENT = '198.18.1.2';

interface World {
  lab: Lab;
  ctl: LabController;
  outside: NetNamespace;
  nodeIp: string;
}

async function twoNetworks(t: ExecutionContext, nat: boolean): Promise<World> {
  const lab = await withLab(t);
  const outside = await NetNamespace.create('bf-out');
  t.teardown(() => outside.remove());
  await lab.ns.connect(outside, { localDev: 'out0', remoteDev: 'eth0', localCidr: `${OUTSIDE}/24`, remoteCidr: `${CLIENT}/24` });
  // A server on the outside network the nodes may (with NAT) or may not reach.
  const www = join(lab.logDir, 'outside-www');
  await mkdir(www, { recursive: true });
  await writeFile(join(www, 'index.html'), 'the outside world\n');
  lab.spawn('busybox', ['httpd', '-f', '-p', `${CLIENT}:8080`, '-h', www], { name: 'outside-httpd', netns: outside });

  const store = join(lab.logDir, 'store');
  await buildRecipe('tiny-web', 'amd64', store);
  // The node gets a CGI that fetches the outside server, to look from inside.
  const overlays = await overlaysWithCgi(lab, { outside: `timeout 8 wget -q -O- http://${CLIENT}:8080/ 2>&1 || echo unreachable` });
  const ctl = await startLabController(lab, {
    overlaysDir: overlays,
    dhcp: { mode: 'full', range: ['198.18.0.100', '198.18.0.199'], router: lab.address },
    config: {
      controller: { outsideInterface: 'out0', nat },
      admin: { listen: [`${OUTSIDE}:8443`] },
      balancer: { listen: [`${OUTSIDE}:80`] },
      images: { store, default: 'tiny-web' },
      nodes: [{ mac: MAC, hostname: 'web1' }],
      cluster: { heartbeatSeconds: 1, downAfterSeconds: 4 },
    },
  });
  const node = await lab.addNode({ arch: 'x86_64', mac: MAC });
  await node.waitFor(/BOOTFLEET: init done/, 240_000);
  return { lab, ctl, outside, nodeIp: (await ctl.node(MAC))?.ip ?? '' };
}

/** What the outside client gets: the status code, or 000 when nothing answers. */
async function fromOutside(w: World, args: string[]): Promise<string> {
  const r = await w.outside.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '4', ...args]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '000' }));
  return r.stdout || '000';
}

test('lab: from the outside network, sites through the balancer by Host and the admin API with the token; no DHCP, TFTP, node route or node; with NAT the nodes reach out', async (t) => {
  await requireLab();
  t.timeout(420_000);
  const w = await twoNetworks(t, true);
  const site = join(w.lab.logDir, 'shop');
  await mkdir(site, { recursive: true });
  await writeFile(join(site, 'index.html'), 'shop from the cluster\n');
  await w.ctl.cli('site', 'add', 'shop', '--domain', 'shop.example', '--content', site);
  const sitePage = async (): Promise<string> => (await w.outside.exec('curl', ['-s', '--max-time', '4', '-H', 'Host: shop.example', `http://${OUTSIDE}/`]).catch(() => ({ stdout: '' }))).stdout;
  for (let i = 0; i < 120 && !(await sitePage()).includes('shop from the cluster'); i++) await new Promise((r) => setTimeout(r, 1000));
  t.regex(await sitePage(), /shop from the cluster/, 'the site, through the balancer on the outside address');

  const token = (await execa('cat', [join(w.ctl.stateDir, 'admin-token')])).stdout.trim();
  t.is(await fromOutside(w, ['-H', `Authorization: Bearer ${token}`, `http://${OUTSIDE}:8443/api/nodes`]), '200', 'the admin API with the token');
  t.is(await fromOutside(w, [`http://${OUTSIDE}:8443/api/nodes`]), '401', 'and not without it');
  t.is(await fromOutside(w, [`http://${OUTSIDE}:8443/api/boot/${MAC}`]), '404', 'node routes are not served on the admin listener');
  t.is(await fromOutside(w, [`http://${OUTSIDE}:8443/images/x/y/vmlinuz`]), '404', 'nor boot files');

  // A client that routes the cluster network through the controller gets nothing from that side.
  await w.outside.ip(['route', 'add', '198.18.0.0/24', 'via', OUTSIDE]);
  t.is(await fromOutside(w, [`http://198.18.0.1:8080/healthz`]), '000', 'the cluster listener does not answer the outside');
  t.is(await fromOutside(w, [`http://${w.nodeIp}/`]), '000', 'a node cannot be reached directly');
  const tftp = await execa('ip', ['netns', 'exec', w.outside.name, 'curl', '-s', '--max-time', '4', 'tftp://198.18.0.1/undionly.kpxe'], { reject: false });
  t.not(tftp.exitCode, 0, 'no TFTP');
  const tftpOut = await execa('ip', ['netns', 'exec', w.outside.name, 'curl', '-s', '--max-time', '4', `tftp://${OUTSIDE}/undionly.kpxe`], { reject: false });
  t.not(tftpOut.exitCode, 0, 'no TFTP on the outside address either');
  const offers = await rawClient(w.outside, { sends: [{ data: clientPacket(MessageType.Discover, '52:54:00:bf:0f:01', { xid: 9, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' }) }], listenMs: 3000 });
  t.deepEqual(offers, [], 'no DHCP answer on the outside network');

  // With NAT on, the node reaches the outside server.
  const inside = (await w.lab.ns.exec('curl', ['-s', '--max-time', '15', `http://${w.nodeIp}/cgi-bin/outside`])).stdout;
  t.regex(inside, /the outside world/);
});

test('lab: without NAT, a node cannot reach the outside network', async (t) => {
  await requireLab();
  t.timeout(300_000);
  const w = await twoNetworks(t, false);
  const inside = (await w.lab.ns.exec('curl', ['-s', '--max-time', '15', `http://${w.nodeIp}/cgi-bin/outside`])).stdout;
  t.regex(inside, /unreachable/);
  t.notRegex(inside, /the outside world/);
});
