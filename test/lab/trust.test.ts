import test from 'ava';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';
import { overlaysWithCgi } from '../helpers/overlay.js';

// The trust model against a booted node (docs/security.md): another host on the LAN gets 403 on
// the node's routes and 401 on admin routes; on the node itself, its own secret is accepted and
// a wrong one refused (a CGI in its overlay makes the calls from the node's own address).

const MAC = '52:54:00:bf:00:01';

test('lab: a second host gets 403 on a booted node\'s routes and 401 on admin routes; the node\'s own secret works, a wrong one does not', async (t) => {
  await requireLab();
  t.timeout(300_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  await buildRecipe('tiny-web', 'amd64', store);
  // On the node: post an event with its secret (or a wrong one) and print the controller's answer.
  const overlays = await overlaysWithCgi(lab, {
    post: [
      'c=$(sed -n "s/^controller=//p" /run/bootfleet/node); m=$(sed -n "s/^mac=//p" /run/bootfleet/node); s=$(sed -n "s/^secret=//p" /run/bootfleet/node)',
      '[ "$QUERY_STRING" = wrong ] && s=0000000000000000000000000000000000000000000000000000000000000000',
      'if wget -q -O /dev/null --header "Authorization: Bearer $s" --post-data "stage=init-done&detail=probe-$QUERY_STRING" "$c/api/nodes/$m/events" 2>/tmp/err; then echo accepted; else echo "refused $(cat /tmp/err)"; fi',
    ].join('\n'),
  });
  const ctl = await startLabController(lab, { config: { images: { store, default: 'tiny-web' }, nodes: [{ mac: MAC, hostname: 'web1' }] }, overlaysDir: overlays });
  const node = await lab.addNode({ arch: 'x86_64', mac: MAC });
  await node.waitFor(/BOOTFLEET: init done/, 240_000);
  const me = await ctl.node(MAC);
  const ip = me?.ip ?? '';
  t.regex(ip, /^198\.18\.0\.\d+$/);

  // Another host on the LAN, even knowing the node's secret, is not the node.
  const stranger = await lab.addHost('stranger', '198.18.0.251/24');
  const secret = await nodeSecretFromController(ctl.stateDir, MAC);
  const status = async (args: string[]): Promise<string> => (await stranger.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', ...args])).stdout;
  for (const path of [`/api/boot/${MAC}`, `/overlay/${MAC}`, `/boot.ipxe?mac=${MAC}`, `/api/nodes/${MAC}/manifest`]) {
    t.is(await status([`${ctl.httpBase}${path}`]), '403', `${path} from another host`);
    t.is(await status(['-H', `Authorization: Bearer ${secret}`, `${ctl.httpBase}${path}`]), '403', `${path} from another host with the node's secret`);
  }
  t.is(await status(['-X', 'POST', '-d', 'stage=init-done&detail=forged', `${ctl.httpBase}/api/nodes/${MAC}/events`]), '403', 'no forged events');
  for (const path of ['/api/nodes', `/api/nodes/${MAC}`, '/api/sites']) t.is(await status([`${ctl.httpBase}${path}`]), '401', `${path} without the admin token`);
  t.is(await status(['-X', 'POST', '-H', 'content-type: application/json', '-d', '{"mac":"52:54:00:bf:00:99"}', `${ctl.httpBase}/api/enrollment`]), '401');
  t.false((await ctl.node(MAC))?.events.some((e) => e.detail === 'forged'), 'the forged event was not recorded');

  // On the node itself: its own secret is accepted, a wrong one refused.
  const onNode = async (query: string): Promise<string> => (await stranger.exec('curl', ['-s', '--max-time', '20', `http://${ip}/cgi-bin/post?${query}`])).stdout.trim();
  t.is(await onNode('own'), 'accepted');
  t.regex(await onNode('wrong'), /^refused .*403/);
  const details = (await ctl.node(MAC))?.events.map((e) => e.detail) ?? [];
  t.true(details.includes('probe-own'));
  t.false(details.includes('probe-wrong'));
});

/** The node's secret as the controller derives it (HMAC of the MAC under stateDir/node-key). */
async function nodeSecretFromController(stateDir: string, mac: string): Promise<string> {
  const { loadSecrets, nodeSecret } = await import('../../src/auth/secrets.js');
  return nodeSecret((await loadSecrets(stateDir)).nodeKey, mac);
}
