import test from 'ava';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollPi, readEnrollment } from '../../src/cluster/enrollment.js';

test('node add validates its flags with messages naming them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-enroll-'));
  await t.throwsAsync(enrollPi(dir, { serial: 'xyz', model: 'pi4' }), { message: /^--serial xyz: give the last 8 hex digits/ });
  await t.throwsAsync(enrollPi(dir, { serial: '9ffefdef', model: 'pi9' }), { message: /^--model pi9: one of pi3, / });
  await t.throwsAsync(enrollPi(dir, { serial: '9ffefdef', model: 'pi4', mac: 'nope' }), { message: /^--mac nope/ });
  t.deepEqual(await readEnrollment(dir), [], 'nothing written on error');
});

test('node add stores Pis by serial with serial and MAC canonicalised; re-adding a serial replaces its record', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-enroll-'));
  await enrollPi(dir, { serial: '0x9FFEFDEF', model: 'pi4', mac: 'DC-A6-32-01-02-03' });
  t.like((await readEnrollment(dir))[0], { serial: '9ffefdef', mac: 'dc:a6:32:01:02:03' });
  await enrollPi(dir, { serial: '11112222', model: 'pi3' });
  await enrollPi(dir, { serial: '9ffefdef', model: 'pi400', hostname: 'kb1' });
  const pis = await readEnrollment(dir);
  t.deepEqual(pis.map((p) => [p.serial, p.model, p.mac, p.hostname]), [['11112222', 'pi3', undefined, undefined], ['9ffefdef', 'pi400', undefined, 'kb1']]);
});
