import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateEnrollment } from '../../src/cluster/enrollment.js';
import { ClusterStore } from '../../src/cluster/store.js';
import { FileStateStore } from '../../src/store/state.js';

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

test('approvals replace one of the same serial or MAC, are removed by MAC, survive a reopen and bump the generation', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bf-enroll-'));
  const store = await ClusterStore.open(new FileStateStore(dir), dir);
  await store.add(validateEnrollment({ serial: '9ffefdef', model: 'pi4', mac: 'dc:a6:32:01:02:03' }));
  await store.add(validateEnrollment({ serial: '11112222', model: 'pi3' }));
  await store.add(validateEnrollment({ serial: '9ffefdef', model: 'pi400', hostname: 'kb1' }));
  t.deepEqual(store.list().map((p) => [p.serial, p.model, p.hostname]), [['11112222', 'pi3', undefined], ['9ffefdef', 'pi400', 'kb1']]);
  t.is(store.current.generation, 3);
  const again = await ClusterStore.open(new FileStateStore(dir), dir);
  t.is(again.list().length, 2, 'persisted');
  await store.add(validateEnrollment({ mac: '52:54:00:00:00:01' }));
  t.true(await store.remove('52:54:00:00:00:01'));
  t.false(await store.remove('52:54:00:00:00:01'));
  t.is(JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')).value.machines.length, 2);
});

test('approvals of the first formats (enrollment.json: Pis written by the CLI, then machines) are taken over', async (t) => {
  for (const old of [{ version: 1, pis: [{ serial: '9ffefdef', model: 'pi4', addedAt: 'x' }] }, { version: 2, machines: [{ serial: '9ffefdef', model: 'pi4', addedAt: 'x' }] }]) {
    const dir = await mkdtemp(join(tmpdir(), 'bf-enroll-'));
    await writeFile(join(dir, 'enrollment.json'), JSON.stringify(old));
    t.like((await ClusterStore.open(new FileStateStore(dir), dir)).list()[0], { serial: '9ffefdef', model: 'pi4' });
  }
});
