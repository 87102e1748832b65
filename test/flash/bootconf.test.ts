import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootConfValues, netbootSettings, rewriteBootConf } from '../../src/flash/bootconf.js';
import { eepromSig } from '../../src/flash/sig.js';
import { syntheticEeprom } from './helpers.js';

test('BOOT_ORDER network first by default; the user\'s other keys are kept in order', (t) => {
  const out = rewriteBootConf('[all]\nBOOT_UART=0\nBOOT_ORDER=0xf41\nWAKE_ON_GPIO=1\n', netbootSettings({}));
  t.is(out, '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nBOOT_ORDER=0xf12\n');
});

test('TFTP_IP / TFTP_PREFIX set; our keys removed from conditional sections and a final [all] added', (t) => {
  const conf = '[all]\r\nBOOT_UART=1\r\n[pi4]\r\nBOOT_ORDER=0xf1\r\nTFTP_PREFIX=0\r\n\r\n';
  const s = netbootSettings({ bootOrder: '0XF21', tftpIp: '198.18.0.1', tftpPrefix: '2' });
  const out = rewriteBootConf(conf, s);
  t.is(out, '[all]\nBOOT_UART=1\n[pi4]\n[all]\nBOOT_ORDER=0xf21\nTFTP_IP=198.18.0.1\nTFTP_PREFIX=2\n');
  t.is(rewriteBootConf(out, s), out, 'idempotent');
  t.deepEqual(Object.fromEntries(bootConfValues(out)), { BOOT_UART: '1', BOOT_ORDER: '0xf21', TFTP_IP: '198.18.0.1', TFTP_PREFIX: '2' });
});

test('an empty config gets just our keys; TFTP_PREFIX 1 carries TFTP_PREFIX_STR', (t) => {
  t.is(rewriteBootConf('', netbootSettings({ tftpPrefix: 1, tftpPrefixStr: 'fleet' })), 'BOOT_ORDER=0xf12\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=fleet\n');
});

test('bad settings name the flag to fix', (t) => {
  t.throws(() => netbootSettings({ bootOrder: 'f12' }), { message: /--boot-order f12: write it as 0x/ });
  t.throws(() => netbootSettings({ bootOrder: '0xf41' }), { message: /no network boot \(mode 2\)/ });
  t.throws(() => netbootSettings({ bootOrder: '0xf92' }), { message: /"9" is not a boot mode/ });
  t.throws(() => netbootSettings({ tftpIp: '198.18.0.300' }), { message: /--tftp-ip/ });
  t.throws(() => netbootSettings({ tftpPrefix: 3 }), { message: /--tftp-prefix 3/ });
  t.throws(() => netbootSettings({ tftpPrefix: 1 }), { message: /needs --tftp-prefix-str/ });
  t.throws(() => netbootSettings({ tftpPrefixStr: 'x' }), { message: /only used with --tftp-prefix 1/ });
});

test('pieeprom.sig: line 1 is what sha256sum prints for the file, then ts and target-soc', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-sig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const img = syntheticEeprom({ soc: 2712, config: '[all]\n' });
  await writeFile(join(dir, 'pieeprom.upd'), img);
  const sum = String((await execa('sha256sum', [join(dir, 'pieeprom.upd')])).stdout).split(' ')[0];
  t.is(eepromSig(img, { ts: 1700000000, targetSoc: 2712 }), `${sum}\nts: 1700000000\ntarget-soc: 2712\n`);
  t.is(eepromSig(img, { ts: 5 }), `${sum}\nts: 5\n`);
});
