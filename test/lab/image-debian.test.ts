import test from 'ava';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { buildRecipe } from '../helpers/images.js';
import { requireLab, withLab } from '../helpers/lab.js';

const MAC = '52:54:00:bf:00:01';

test('lab: debian-web (amd64, mmdebstrap + nginx) netboots into RAM and nginx serves the node site', async (t) => {
  await requireLab();
  t.timeout(600_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const { id } = await buildRecipe('debian-web', 'amd64', store);
  const ctl = await startLabController(lab, { config: { images: { store, default: 'debian-web' }, nodes: [{ mac: MAC, hostname: 'deb1' }] } });
  const node = await lab.addNode({ arch: 'x86_64', mac: MAC, memoryMiB: 1024 });
  await node.waitFor(/BOOTFLEET: switching root/, 240_000);

  const record = () => ctl.node(MAC);
  // systemd under TCG takes a while; the image reports init-done once nginx is up.
  const deadline = Date.now() + 240_000;
  while (!(await record())?.events.some((e) => e.stage === 'init-done')) {
    if (Date.now() > deadline) return t.fail(`no init-done from the node; console tail:\n${node.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const me = await record();
  t.is(me?.image, `debian-web@${id}`);
  // Where the boot's time goes, from the controller's own event times (docs/benchmarks.md).
  const events = me?.events ?? [];
  const pxe = Date.parse(events.find((e) => e.stage === 'dhcp')?.at ?? '');
  const since = (at: string): string => ((Date.parse(at) - pxe) / 1000).toFixed(1);
  const done = events.find((e) => e.stage === 'init-done');
  t.log(`TCG boot, PXE (first DHCP) to init-done: ${since(done?.at ?? '')} s`);
  t.log(events.filter((e) => Date.parse(e.at) >= pxe).map((e) => `+${since(e.at)} s ${e.stage} ${e.detail}`).join('\n'));
  const client = await lab.addHost('client', '198.18.0.250/24');
  const res = await client.exec('curl', ['-sS', '-i', '--max-time', '10', `http://${me?.ip ?? ''}/`]);
  t.regex(res.stdout, /^Server: nginx/im, 'nginx answers');
  t.regex(res.stdout, /<h1>deb1<\/h1>/, 'with the site rendered for this node');
});
