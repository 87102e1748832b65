import test from 'ava';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flashCommand } from '../../src/commands/flash.js';
import { readBootConf } from '../../src/flash/eeprom.js';
import { cardCopyOut, cardNames, cardText, checkDisk, sha256sum } from './card-files.js';
import { cardWorkDir, syntheticEeprom } from './helpers.js';

// Cards from synthetic inputs, read back with independent tools; the pi3 card, which needs
// Debian's raspi-firmware, is in card-bootcode-lab.test.ts.

process.env['SOURCE_DATE_EPOCH'] = '1700000000';
const quiet = (): void => undefined;

test('pi4 and pi5 EEPROM cards: recovery.bin, pieeprom.upd with our bootconf, pieeprom.sig matching sha256sum', async (t) => {
  const dir = await cardWorkDir(t);
  for (const [model, soc] of [['pi4', 2711], ['pi5', 2712]] as const) {
    const eeprom = join(dir, `pieeprom-${soc}.bin`);
    await writeFile(eeprom, syntheticEeprom({ soc, config: '[all]\nBOOT_UART=1\nBOOT_ORDER=0xf41\n', after: 'sig' }));
    const recovery = join(dir, 'recovery.bin');
    await writeFile(recovery, Buffer.from(`recovery ${soc}`));
    const card = join(dir, `${model}.img`);
    await flashCommand({ model, out: card, eeprom, recovery, tftpIp: '198.18.0.1', tftpPrefix: 2 }, quiet);
    await checkDisk(card, dir);
    t.deepEqual(await cardNames(card), ['pieeprom.sig', 'pieeprom.upd', 'recovery.bin'], model);
    t.is(await cardText(card, 'recovery.bin'), `recovery ${soc}`);
    const upd = await cardCopyOut(card, 'pieeprom.upd', join(dir, `${model}.upd`));
    t.is(readBootConf(await readFile(upd)), '[all]\nBOOT_UART=1\nBOOT_ORDER=0xf12\nTFTP_IP=198.18.0.1\nTFTP_PREFIX=2\n');
    t.is(await cardText(card, 'pieeprom.sig'), `${await sha256sum(upd)}\nts: 1700000000\ntarget-soc: ${soc}\n`);
    let shown = '';
    await flashCommand({ showEepromConfig: upd }, (s) => (shown += s));
    t.regex(shown, /BOOT_ORDER=0xf12/);
  }
});

test('an EEPROM card is byte-for-byte reproducible; a Pi 5 image for --model pi4 is refused', async (t) => {
  const dir = await cardWorkDir(t);
  const eeprom = join(dir, 'pieeprom.bin');
  await writeFile(eeprom, syntheticEeprom({ soc: 2711, config: '[all]\n' }));
  await writeFile(join(dir, 'recovery.bin'), 'r');
  const a = join(dir, 'a.img');
  const b = join(dir, 'b.img');
  await flashCommand({ model: 'cm4', out: a, eeprom, recovery: join(dir, 'recovery.bin') }, quiet);
  await flashCommand({ model: 'cm4', out: b, eeprom, recovery: join(dir, 'recovery.bin') }, quiet);
  t.is(await sha256sum(a), await sha256sum(b));
  await writeFile(join(dir, 'pi5.bin'), syntheticEeprom({ soc: 2712, config: '[all]\n' }));
  await t.throwsAsync(flashCommand({ model: 'pi4', out: join(dir, 'c.img'), eeprom: join(dir, 'pi5.bin'), recovery: join(dir, 'recovery.bin') }, quiet),
    { message: /BCM2712 \(Pi 5\) image, but the Raspberry Pi 4B needs a BCM2711 one/ });
  await t.throwsAsync(flashCommand({ model: 'pi4', out: join(dir, 'c.img'), recovery: join(dir, 'recovery.bin') }, quiet), { message: /needs --eeprom/ });
});

test('zero2w card: the image\'s rpi/ files plus config.txt and cmdline.txt naming the controller', async (t) => {
  const dir = await cardWorkDir(t);
  const store = join(dir, 'store');
  const rpi = join(store, 'tiny-web', '0123456789ab-arm64', 'rpi');
  await mkdir(rpi, { recursive: true });
  const names = ['bootcode.bin', 'start.elf', 'fixup.dat', 'kernel8.img', 'initramfs8', 'bcm2837-rpi-zero-2-w.dtb', 'bcm2710-rpi-zero-2-w.dtb', 'start4.elf'];
  for (const n of names) await writeFile(join(rpi, n), `content of ${n}`);
  await writeFile(join(store, 'tiny-web', '0123456789ab-arm64', 'manifest.json'), JSON.stringify({
    name: 'tiny-web', version: '0123456789ab', arch: 'arm64', recipeHash: 'x', buildTime: '2026-01-01T00:00:00Z', kernelVersion: 'k', files: {},
  }));
  const card = join(dir, 'zero.img');
  await flashCommand({ model: 'zero2w', out: card, image: 'tiny-web', store, controller: 'http://198.18.0.1:8080' }, quiet);
  await checkDisk(card, dir);
  t.deepEqual(await cardNames(card), [...names.filter((n) => n !== 'start4.elf'), 'cmdline.txt', 'config.txt'].sort());
  t.is(await cardText(card, 'kernel8.img'), 'content of kernel8.img');
  t.is(await cardText(card, 'cmdline.txt'), 'console=serial0,115200 console=tty1 bootfleet.controller=http://198.18.0.1:8080\n');
  t.regex(await cardText(card, 'config.txt'), /^device_tree=bcm2837-rpi-zero-2-w\.dtb$/m);
  await t.throwsAsync(flashCommand({ model: 'pi3a+', out: card, image: 'tiny-web', store }, quiet), { message: /needs --controller/ });
  await t.throwsAsync(flashCommand({ model: 'pi3a+', out: card, image: 'tiny-web', store, controller: 'http://c' }, quiet), { message: /no bcm2837-rpi-3-a-plus\.dtb/ });
});
