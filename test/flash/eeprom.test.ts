import test from 'ava';
import fc from 'fast-check';
import {
  FILE_MAGIC, MAX_FILE_SIZE, PAD_MAGIC, parseSections, readBootConf, writeBootConf, type Soc,
} from '../../src/flash/eeprom.js';
import { next4k, syntheticEeprom } from './helpers.js';

const CONF = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\n';
/** Where the helper puts bootconf.txt: after pubkey.bin (288-byte section) at 128 KiB, on the next 4 KiB. */
const CONF_AT = next4k(128 * 1024 + 288);
const SIG_AT = CONF_AT + 4096;

/** The section at `at` decoded by hand (big-endian magic and length, §4). */
function sectionAt(img: Uint8Array, at: number): { magic: number; length: number } {
  const b = Buffer.from(img.buffer, img.byteOffset, img.byteLength);
  return { magic: b.readUInt32BE(at), length: b.readUInt32BE(at + 4) };
}

/** bootconf.txt's data as the bootloader would see it: 24 bytes into the section, length − 16 bytes. */
function confBytes(img: Uint8Array): string {
  const { length } = sectionAt(img, CONF_AT);
  return Buffer.from(img.subarray(CONF_AT + 24, CONF_AT + 24 + length - 16)).toString();
}

const allFF = (img: Uint8Array, from: number, to: number): boolean => img.subarray(from, to).every((x) => x === 0xff);

for (const soc of [2711, 2712] as Soc[]) {
  test(`${soc}: reads the embedded bootconf.txt`, (t) => {
    const img = syntheticEeprom({ soc, config: CONF });
    t.is(readBootConf(img), CONF);
    t.deepEqual(parseSections(img).filter((s) => s.magic === FILE_MAGIC).map((s) => s.name), ['pubkey.bin', 'bootconf.txt']);
  });

  test(`${soc}: a growing config as the last section: new length, data, then 0xff up to the scratch page`, (t) => {
    const img = syntheticEeprom({ soc, config: CONF });
    const grown = CONF + 'BOOT_ORDER=0xf12\n'.repeat(100);
    const out = writeBootConf(img, grown);
    t.is(out.length, img.length);
    t.deepEqual(sectionAt(out, CONF_AT), { magic: FILE_MAGIC, length: grown.length + 16 });
    t.is(confBytes(out), grown);
    t.is(readBootConf(out), grown);
    const end = CONF_AT + 24 + grown.length;
    const limit = Math.min(img.length - 4096, 64 * 1024 + 988 * 1024);
    t.true(allFF(out, end, limit), '0xff after the data, no pad section after the last one');
    t.deepEqual(Buffer.from(out.subarray(0, CONF_AT)), img.subarray(0, CONF_AT), 'nothing before bootconf.txt changes');
    t.deepEqual(Buffer.from(out.subarray(img.length - 4096)), img.subarray(img.length - 4096), 'the last 4 KiB are the bootloader\'s');
  });

  test(`${soc}: a shrinking config before another section gets a pad section (0x55aafeef, gap - 8, 0xff body)`, (t) => {
    const long = CONF + '# filler\n'.repeat(200);
    const img = syntheticEeprom({ soc, config: long, after: 'sig' });
    t.is(readBootConf(img), long);
    const short = '[all]\nBOOT_ORDER=0xf12\n';
    const out = writeBootConf(img, short);
    t.is(readBootConf(out), short);
    const padAt = Math.ceil((CONF_AT + 24 + short.length) / 8) * 8;
    t.true(allFF(out, CONF_AT + 24 + short.length, padAt), '0xff to the 8-byte boundary');
    t.deepEqual(sectionAt(out, padAt), { magic: PAD_MAGIC, length: SIG_AT - padAt - 8 });
    t.true(allFF(out, padAt + 8, SIG_AT), 'old config bytes erased to 0xff');
    t.deepEqual(Buffer.from(out.subarray(SIG_AT)), img.subarray(SIG_AT), 'bootconf.sig and everything after is untouched');
    t.deepEqual(parseSections(out).slice(-3).map((s) => [s.magic, s.offset]), [[FILE_MAGIC, CONF_AT], [PAD_MAGIC, padAt], [FILE_MAGIC, SIG_AT]]);
  });

  test(`${soc}: exactly 8 bytes left before the next section: a pad section of length 0; none when 0 bytes are left`, (t) => {
    const img = syntheticEeprom({ soc, config: CONF, after: 'sig' });
    const eight = writeBootConf(img, 'x'.repeat(4096 - 24 - 8));
    t.deepEqual(sectionAt(eight, SIG_AT - 8), { magic: PAD_MAGIC, length: 0 });
    t.is(parseSections(eight).at(-1)?.name, 'bootconf.sig');
    const full = writeBootConf(img, 'y'.repeat(4096 - 24));
    t.is(readBootConf(full), 'y'.repeat(4096 - 24));
    t.deepEqual(parseSections(full).slice(-2).map((s) => s.name), ['bootconf.txt', 'bootconf.sig']);
  });

  test(`${soc}: a config over 4076 bytes is refused with the limit named`, (t) => {
    const img = syntheticEeprom({ soc, config: CONF });
    t.is(MAX_FILE_SIZE, 4076);
    t.notThrows(() => writeBootConf(img, 'z'.repeat(4076)));
    const err = t.throws(() => writeBootConf(img, 'z'.repeat(4077)));
    t.regex(err?.message ?? '', /4077 bytes.*at most 4076/);
  });
}

test('a config that would run into the next section is refused (rpi-eeprom-config would overwrite its header)', (t) => {
  const img = syntheticEeprom({ soc: 2711, config: CONF, after: 'sig' });
  const err = t.throws(() => writeBootConf(img, 'z'.repeat(4076)));
  t.regex(err?.message ?? '', /only 4072 fit before the next section at 139264/);
});

test('missing bootconf.txt, or one outside the first-partition window, is a clear error', (t) => {
  for (const img of [syntheticEeprom({ soc: 2711, config: CONF, noBootconf: true }), syntheticEeprom({ soc: 2712, config: CONF, bootconfInReadOnly: true })]) {
    t.throws(() => readBootConf(img, 'pieeprom.bin'), { message: /pieeprom\.bin has no bootconf\.txt section between offsets 65536 and 1077248/ });
    t.throws(() => writeBootConf(img, CONF), { message: /no bootconf\.txt section/ });
  }
});

test('wrong size and bad section magic are refused, naming the file', (t) => {
  t.throws(() => readBootConf(new Uint8Array(1000), 'x.bin'), { message: /x\.bin is 1000 bytes.*524288.*2097152/ });
  const img = syntheticEeprom({ soc: 2711, config: CONF });
  img.writeUInt32BE(0x12345678, 0);
  t.throws(() => readBootConf(img, 'x.bin'), { message: /bad section magic 0x12345678 at offset 0/ });
});

test('property: any config up to the room left round-trips and keeps a valid section chain', (t) => {
  for (const after of ['end', 'sig'] as const) {
    const img = syntheticEeprom({ soc: 2711, config: CONF, after });
    const before = parseSections(img).length;
    fc.assert(fc.property(fc.string({ maxLength: after === 'sig' ? 4072 : 4076, unit: 'binary-ascii' }), (s) => {
      const out = writeBootConf(img, s);
      const sections = parseSections(out);
      return readBootConf(out) === s && sections.length >= before && sections.length <= before + 1 &&
        Buffer.from(out.subarray(0, CONF_AT)).equals(img.subarray(0, CONF_AT));
    }), { numRuns: 200 });
  }
  t.pass();
});
