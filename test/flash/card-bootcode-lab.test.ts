import test from 'ava';
import { join } from 'node:path';
import { flashCommand } from '../../src/commands/flash.js';
import { bootcodeInputs } from '../../src/flash/inputs.js';
import { cardCopyOut, cardNames, checkDisk, sha256sum } from './card-files.js';
import { cardWorkDir } from './helpers.js';

// The pi3 card carries Debian's bootcode.bin (raspi-firmware, fetched from Debian's archive into
// the package cache on first use).

test('pi3 card: only Debian\'s bootcode.bin, and the OTP step printed', async (t) => {
  const dir = await cardWorkDir(t);
  const card = join(dir, 'pi3.img');
  let said = '';
  await flashCommand({ model: 'pi3', out: card }, (s) => (said += s));
  await checkDisk(card, dir);
  t.deepEqual(await cardNames(card), ['bootcode.bin']);
  const got = await cardCopyOut(card, 'bootcode.bin', join(dir, 'bootcode.bin'));
  t.is(await sha256sum(got), await sha256sum((await bootcodeInputs()).bootcode));
  t.regex(said, /vcgencmd otp_dump \| grep 17:.*17:3020000a/s);
});
