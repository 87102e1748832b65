import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flashCommand } from '../../src/commands/flash.js';
import { readBootConf } from '../../src/flash/eeprom.js';
import { bootcodeInputs } from '../../src/flash/inputs.js';
import { cardCopyOut, cardNames, cardText, fsckCard, sfdiskDump } from './card-files.js';
import { requireTools, syntheticEeprom } from './helpers.js';

process.env['SOURCE_DATE_EPOCH'] = '1700000000';
const quiet = (): void => undefined;

async function workDir(t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  await requireTools('mkfs.fat', 'mcopy', 'mdir', 'mtype', 'fsck.fat', 'sfdisk', 'sha256sum');
  const dir = await mkdtemp(join(tmpdir(), 'bf-card-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function checkDisk(card: string, dir: string): Promise<void> {
  const table = await sfdiskDump(card);
  if (!/label: dos/.test(table) || !/start=\s*2048, size=\s*\d+, type=c/.test(table)) throw new Error(`unexpected partition table:\n${table}`);
  await fsckCard(card, dir);
}

const sha = async (file: string): Promise<string> => String((await execa('sha256sum', [file])).stdout).split(' ')[0] ?? '';

test('pi4 and pi5 EEPROM cards: recovery.bin, pieeprom.upd with our bootconf, pieeprom.sig matching sha256sum', async (t) => {
  const dir = await workDir(t);
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
    t.is(await cardText(card, 'pieeprom.sig'), `${await sha(upd)}\nts: 1700000000\ntarget-soc: ${soc}\n`);
    let shown = '';
    await flashCommand({ showEepromConfig: upd }, (s) => (shown += s));
    t.regex(shown, /BOOT_ORDER=0xf12/);
  }
});

test('an EEPROM card is byte-for-byte reproducible; a Pi 5 image for --model pi4 is refused', async (t) => {
  const dir = await workDir(t);
  const eeprom = join(dir, 'pieeprom.bin');
  await writeFile(eeprom, syntheticEeprom({ soc: 2711, config: '[all]\n' }));
  await writeFile(join(dir, 'recovery.bin'), 'r');
  const a = join(dir, 'a.img');
  const b = join(dir, 'b.img');
  await flashCommand({ model: 'cm4', out: a, eeprom, recovery: join(dir, 'recovery.bin') }, quiet);
  await flashCommand({ model: 'cm4', out: b, eeprom, recovery: join(dir, 'recovery.bin') }, quiet);
  t.is(await sha(a), await sha(b));
  await writeFile(join(dir, 'pi5.bin'), syntheticEeprom({ soc: 2712, config: '[all]\n' }));
  await t.throwsAsync(flashCommand({ model: 'pi4', out: join(dir, 'c.img'), eeprom: join(dir, 'pi5.bin'), recovery: join(dir, 'recovery.bin') }, quiet),
    { message: /BCM2712 \(Pi 5\) image, but the Raspberry Pi 4B needs a BCM2711 one/ });
  await t.throwsAsync(flashCommand({ model: 'pi4', out: join(dir, 'c.img'), recovery: join(dir, 'recovery.bin') }, quiet), { message: /needs --eeprom/ });
});

test('pi3 card: only Debian\'s bootcode.bin, and the OTP step printed', async (t) => {
  const dir = await workDir(t);
  const card = join(dir, 'pi3.img');
  let said = '';
  await flashCommand({ model: 'pi3', out: card }, (s) => (said += s));
  await checkDisk(card, dir);
  t.deepEqual(await cardNames(card), ['bootcode.bin']);
  const got = await cardCopyOut(card, 'bootcode.bin', join(dir, 'bootcode.bin'));
  t.is(await sha(got), await sha((await bootcodeInputs()).bootcode));
  t.regex(said, /vcgencmd otp_dump \| grep 17:.*17:3020000a/s);
});

test('zero2w card: the image\'s rpi/ files plus config.txt and cmdline.txt naming the controller', async (t) => {
  const dir = await workDir(t);
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
