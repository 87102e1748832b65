import test from 'ava';
import { piAdmission } from '../../src/boot/admission.js';

const enrolled = [{ serial: '9ffefdef' }, { serial: '11112222', mac: 'dc:a6:32:00:00:01' }];

test('a Pi enrolled by serial or by MAC is approved; any other Pi is pending', (t) => {
  t.is(piAdmission({ serial: '9ffefdef', mac: 'dc:a6:32:99:99:99' }, enrolled), 'approved');
  t.is(piAdmission({ mac: 'dc:a6:32:00:00:01' }, enrolled), 'approved', 'before its serial is known');
  t.is(piAdmission({ serial: 'deadbeef', mac: 'dc:a6:32:99:99:99' }, enrolled), 'pending');
  t.is(piAdmission({}, enrolled), 'pending');
  t.is(piAdmission({ serial: '9ffefdef' }, []), 'pending', 'nothing enrolled: everything waits');
});
