import test from 'ava';
import { execa } from 'execa';
import { join } from 'node:path';
import { flashCommand } from '../../src/commands/flash.js';
import { buildRecipe } from '../helpers/images.js';
import { startLabController } from '../../src/lab/lab-controller.js';
import { cardCopyOut, cardText } from '../flash/card-files.js';
import { requireTools } from '../flash/helpers.js';
import { requireLab, withLab } from '../helpers/lab.js';

test('lab: a Zero 2 W SD-assisted card\'s kernel + initramfs, read back out of the card, boot under -M virt and fetch the root from the controller', async (t) => {
  await requireLab('aarch64');
  await requireTools('mkfs.fat', 'mcopy', 'mtype');
  t.timeout(300_000);
  const lab = await withLab(t);
  const store = join(lab.logDir, 'store');
  const built = await buildRecipe('tiny-web', 'arm64', store);
  const { id } = built;
  const mac = '52:54:00:bf:00:21';
  const ctl = await startLabController(lab, { config: { images: { store, default: 'tiny-web' } } });

  const card = join(lab.logDir, 'zero2w.img');
  await flashCommand({ model: 'zero2w', out: card, image: `tiny-web@${id}`, store, controller: ctl.httpBase }, () => undefined);
  // Everything the node gets comes out of the card image, not the store.
  const kernel = await cardCopyOut(card, 'kernel8.img', join(lab.logDir, 'card-kernel8.img'));
  const initrd = await cardCopyOut(card, 'initramfs8', join(lab.logDir, 'card-initramfs8'));
  const cmdline = (await cardText(card, 'cmdline.txt')).trim();
  t.regex(cmdline, new RegExp(`bootfleet\\.controller=${ctl.httpBase.replace(/[.]/g, '\\.')}$`));
  const same = await execa('cmp', [initrd, join(built.dir, 'rpi', 'initramfs8')], { reject: false });
  t.is(same.exitCode, 0, 'the card carries the image\'s initramfs');

  // -M virt has no Pi serial port: keep the card's command line but for its serial0 console.
  const node = await lab.addNode({ arch: 'aarch64', mac, boot: { kernel, initrd, append: cmdline.replace('console=serial0,115200 console=tty1 ', '') } });
  await node.waitFor(/BOOTFLEET: init done/, 240_000);
  const me = await ctl.node(mac);
  t.is(me?.image, `tiny-web@${id}`);
  for (const s of ['rootfs-fetched', 'verified', 'switched'] as const) t.true(me?.events.some((e) => e.stage === s), `stage ${s}`);
});
