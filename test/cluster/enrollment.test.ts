import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollmentStore, validateEnrollment } from '../../src/cluster/enrollment.js';

test('node add validates its flags with messages naming them', (t) => {
  t.throws(() => validateEnrollment({ serial: 'xyz' }), { message: /--serial xyz: give the last 8 hex digits/ });
  t.throws(() => validateEnrollment({ serial: '9ffefdef', model: 'pi9' }), { message: /--model pi9: one of pi3, / });
  t.throws(() => validateEnrollment({ serial: '9ffefdef', mac: 'nope' }), { message: /--mac nope/ });
  t.throws(() => validateEnrollment({ mac: '52:54:00:00:00:01', hostname: '-bad-' }), { message: /--hostname -bad-: must be a DNS label/ });
  t.throws(() => validateEnrollment({ model: 'pi4' }), { message: /give --mac <MAC> \(any machine\) or --serial/ });
  t.throws(() => validateEnrollment({ mac: '52:54:00:00:00:01', image: 'Bad Image' }), { message: /--image Bad Image/ });
});

test('a Pi by serial or MAC, a PC by MAC; serials lower-cased, MACs canonicalised', (t) => {
  t.like(validateEnrollment({ serial: '0x9FFEFDEF', model: 'pi4' }), { serial: '9ffefdef', model: 'pi4' });
  t.like(validateEnrollment({ mac: 'DC-A6-32-01-02-03' }), { mac: 'dc:a6:32:01:02:03' });
});

test('the store replaces an approval of the same serial or MAC, removes by MAC, and writes atomically', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-enroll-'));
  const store = await EnrollmentStore.open(dir);
  await store.add(validateEnrollment({ serial: '9ffefdef', model: 'pi4', mac: 'dc:a6:32:01:02:03' }));
  await store.add(validateEnrollment({ serial: '11112222', model: 'pi3' }));
  await store.add(validateEnrollment({ serial: '9ffefdef', model: 'pi400', hostname: 'kb1' }));
  t.deepEqual(store.list().map((p) => [p.serial, p.model, p.hostname]), [['11112222', 'pi3', undefined], ['9ffefdef', 'pi400', 'kb1']]);
  const again = await EnrollmentStore.open(dir);
  t.is(again.list().length, 2, 'persisted');
  await store.add(validateEnrollment({ mac: '52:54:00:00:00:01' }));
  t.true(await store.remove('52:54:00:00:00:01'));
  t.false(await store.remove('52:54:00:00:00:01'));
  t.is(JSON.parse(await readFile(join(dir, 'enrollment.json'), 'utf8')).version, 2);
});

test('an enrollment file of the first format (Pis written by the CLI) is read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-enroll-'));
  await writeFile(join(dir, 'enrollment.json'), JSON.stringify({ version: 1, pis: [{ serial: '9ffefdef', model: 'pi4', addedAt: 'x' }] }));
  t.like((await EnrollmentStore.open(dir)).list()[0], { serial: '9ffefdef', model: 'pi4' });
});
