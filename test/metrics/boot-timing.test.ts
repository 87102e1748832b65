import test from 'ava';
import { newestStageTiming } from '../../src/metrics/boot-timing.js';
import type { BootEvent, BootStage } from '../../src/cluster/nodes.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const ev = (stage: BootStage, second: number): BootEvent => ({ stage, at: new Date(T0 + second * 1000).toISOString(), detail: '' });

test('a stage is timed from the first dhcp event of its boot', (t) => {
  const events = [ev('dhcp', 0), ev('dhcp', 1), ev('tftp', 2), ev('ipxe-script', 4), ev('kernel', 9)];
  t.deepEqual(newestStageTiming(events), { stage: 'kernel', seconds: 9 });
  t.deepEqual(newestStageTiming([...events, ev('init-done', 31.5)]), { stage: 'init-done', seconds: 31.5 });
});

test('only the first occurrence of a stage in a boot counts (iPXE and Pi firmware fetch many TFTP files)', (t) => {
  t.deepEqual(newestStageTiming([ev('dhcp', 0), ev('tftp', 1)]), { stage: 'tftp', seconds: 1 });
  t.is(newestStageTiming([ev('dhcp', 0), ev('tftp', 1), ev('tftp', 2)]), undefined);
});

test('a new boot starts after init-done or reboot: its stages are timed from its own dhcp, not the earlier boot', (t) => {
  const first = [ev('dhcp', 0), ev('tftp', 1), ev('init-done', 30)];
  t.deepEqual(newestStageTiming([...first, ev('agent', 31), ev('reboot', 100), ev('dhcp', 110), ev('tftp', 113)]), { stage: 'tftp', seconds: 3 });
  t.deepEqual(newestStageTiming([...first, ev('dhcp', 200), ev('init-done', 260)]), { stage: 'init-done', seconds: 60 });
});

test('no timing without a dhcp event in the boot, for untimed stages, or for an empty list', (t) => {
  t.is(newestStageTiming([ev('init-done', 0), ev('kernel', 5)]), undefined, 'no dhcp since the last boot ended');
  t.is(newestStageTiming([ev('dhcp', 0), ev('agent', 5)]), undefined, 'agent is not a boot stage');
  t.is(newestStageTiming([ev('dhcp', 0)]), undefined, 'dhcp starts a boot, it is not timed');
  t.is(newestStageTiming([]), undefined);
});
