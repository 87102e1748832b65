import test from 'ava';
import { MODELS, MODEL_INFO } from '../../src/flash/models.js';
import { controllerUrl, planCard, sdCmdline, sdConfigTxt, type CardInputs } from '../../src/flash/plan.js';

const eeprom: CardInputs = { kind: 'eeprom-update', recovery: '/x/recovery.bin', pieeprom: new Uint8Array(8), sig: 'abc\nts: 1\n', bootConf: 'BOOT_ORDER=0xf12\n' };
const bootcode: CardInputs = { kind: 'bootcode', bootcode: '/fw/bootcode.bin' };
const rpiFiles = ['bootcode.bin', 'start.elf', 'fixup.dat', 'start4.elf', 'fixup4.dat', 'kernel8.img', 'initramfs8', 'config.txt', 'cmdline.txt',
  'bcm2837-rpi-zero-2-w.dtb', 'bcm2710-rpi-zero-2-w.dtb', 'bcm2837-rpi-3-a-plus.dtb', 'bcm2710-rpi-3-a-plus.dtb', 'bcm2837-rpi-3-b.dtb'];
const sd = (files = rpiFiles): CardInputs => ({ kind: 'sd-assisted', rpiDir: '/s/tiny-web/v/rpi', rpiFiles: files, controller: 'http://198.18.0.1:8080/', image: 'tiny-web@v' });
const inputsFor = { 'eeprom-update': eeprom, bootcode, 'sd-assisted': sd() } as const;
const names = (p: ReturnType<typeof planCard>): string[] => p.files.map((f) => f.name);

test('every model has a plan of its kind', (t) => {
  for (const m of MODELS) t.is(planCard(m, inputsFor[MODEL_INFO[m].kind]).kind, MODEL_INFO[m].kind);
});

test('Pi 4 / 400 / CM4 / 5: recovery.bin, pieeprom.upd, pieeprom.sig', (t) => {
  for (const m of ['pi4', 'pi400', 'cm4', 'pi5'] as const) {
    const p = planCard(m, eeprom);
    t.deepEqual(names(p), ['recovery.bin', 'pieeprom.upd', 'pieeprom.sig']);
    t.deepEqual(p.files[0], { name: 'recovery.bin', path: '/x/recovery.bin' });
    t.regex(p.notes.join('\n'), /BOOT_ORDER=0xf12/);
  }
  t.is(MODEL_INFO.pi5.soc, 2712);
  t.is(MODEL_INFO.cm4.soc, 2711);
});

test('Pi 2 / 3B / 3B+: only bootcode.bin; the 3B plan carries the OTP step', (t) => {
  for (const m of ['pi2', 'pi3', 'pi3b+'] as const) t.deepEqual(planCard(m, bootcode).files, [{ name: 'bootcode.bin', path: '/fw/bootcode.bin' }]);
  t.regex(planCard('pi3', bootcode).notes.join('\n'), /program_usb_boot_mode=1[\s\S]*vcgencmd otp_dump \| grep 17:[\s\S]*17:3020000a/);
  t.notRegex(planCard('pi3b+', bootcode).notes.join('\n'), /otp_dump/);
});

test('Zero 2 W / 3A+: firmware, kernel, initramfs, the model\'s dtbs, config.txt and cmdline.txt with the controller', (t) => {
  const z = planCard('zero2w', sd());
  t.deepEqual(names(z), ['bootcode.bin', 'start.elf', 'fixup.dat', 'kernel8.img', 'initramfs8', 'bcm2837-rpi-zero-2-w.dtb', 'bcm2710-rpi-zero-2-w.dtb', 'config.txt', 'cmdline.txt']);
  t.deepEqual(z.files[3], { name: 'kernel8.img', path: '/s/tiny-web/v/rpi/kernel8.img' });
  const text = (n: string): string => {
    const f = z.files.find((x) => x.name === n);
    return f && 'data' in f ? new TextDecoder().decode(f.data) : '';
  };
  t.is(text('cmdline.txt'), 'console=serial0,115200 console=tty1 bootfleet.controller=http://198.18.0.1:8080\n');
  t.regex(text('config.txt'), /^arm_64bit=1$[\s\S]*^kernel=kernel8\.img$[\s\S]*^initramfs initramfs8 followkernel$[\s\S]*^device_tree=bcm2837-rpi-zero-2-w\.dtb$/m);
  t.is(text('config.txt'), sdConfigTxt('zero2w', 'http://198.18.0.1:8080'));
  t.true(names(planCard('pi3a+', sd())).includes('bcm2837-rpi-3-a-plus.dtb'));
  t.is(sdCmdline('http://c'), 'console=serial0,115200 console=tty1 bootfleet.controller=http://c\n');
});

test('an image without the pi files, a wrong input kind and a bad controller URL are clear errors', (t) => {
  t.throws(() => planCard('zero2w', sd(['kernel8.img'])), { message: /has no bootcode\.bin, start\.elf, fixup\.dat, initramfs8, bcm2837-rpi-zero-2-w\.dtb.*pi target/ });
  t.throws(() => planCard('pi4', bootcode), { message: /--model pi4 needs a eeprom-update card/ });
  t.throws(() => controllerUrl('198.18.0.1'), { message: /--controller 198\.18\.0\.1/ });
  t.throws(() => controllerUrl('ftp://x'), { message: /http/ });
  t.throws(() => controllerUrl('http://x/?a=1'), { message: /query/ });
  t.is(controllerUrl('https://ctl.example:8443/base/'), 'https://ctl.example:8443/base');
});
