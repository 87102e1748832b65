import test from 'ava';
import { applyRollout } from '../../src/rollout/desired.js';
import { powerCommand, powerOf } from '../../src/rollout/power.js';
import { durationSeconds } from '../../src/rollout/duration.js';
import { emptyCluster } from '../../src/cluster/model.js';
import type { NodePhase } from '../../src/rollout/types.js';
import { A, B, V1, V2, rolloutOf } from './fixtures.js';

function after(phase: NodePhase, over: Record<string, unknown> = {}) {
  const s = emptyCluster();
  applyRollout(s, rolloutOf([{ mac: A, phase, token: 'T', surge: { alpha: 1 }, ...over }, { mac: B }]));
  return { hold: s.holds[A], image: s.images[A], reboot: s.reboots[A], surge: s.surge, untouched: s.holds[B] === undefined && s.images[B] === undefined };
}

test('the cluster state each phase asks for: hold, image assignment, reboot token, surge', (t) => {
  t.deepEqual(after('pending'), { hold: undefined, image: undefined, reboot: undefined, surge: {}, untouched: true });
  t.deepEqual(after('surging'), { hold: undefined, image: undefined, reboot: undefined, surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('draining'), { hold: 'drain', image: undefined, reboot: undefined, surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('rebooting'), { hold: 'maint', image: V2, reboot: 'T', surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('booting'), { hold: 'maint', image: V2, reboot: 'T', surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('verifying'), { hold: 'drain', image: V2, reboot: undefined, surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('observing'), { hold: undefined, image: V2, reboot: undefined, surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('done'), { hold: undefined, image: V2, reboot: undefined, surge: {}, untouched: true });
  t.deepEqual(after('rolling-back', { stage: 'rebooting' }), { hold: 'maint', image: V1, reboot: 'T', surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('rolling-back', { stage: 'verifying' }), { hold: 'drain', image: V1, reboot: undefined, surge: { alpha: 1 }, untouched: true });
  t.deepEqual(after('rolled-back'), { hold: undefined, image: V1, reboot: undefined, surge: {}, untouched: true });
  t.deepEqual(after('failed'), { hold: undefined, image: V1, reboot: undefined, surge: {}, untouched: true });
});

test('applying it twice changes nothing more (a replay after a restart is safe)', (t) => {
  const r = rolloutOf([{ mac: A, phase: 'booting', token: 'T', surge: { alpha: 1 } }]);
  const s = emptyCluster();
  applyRollout(s, r);
  const once = structuredClone(s);
  applyRollout(s, r);
  t.deepEqual(s, once);
});

test('a manual reboot token is not overwritten once the node came back', (t) => {
  const s = emptyCluster();
  s.reboots[A] = 'manual';
  applyRollout(s, rolloutOf([{ mac: A, phase: 'observing', token: 'T' }]));
  t.is(s.reboots[A], 'manual');
});

test('power drivers: ssh and command lines; the command gets the node in its environment; a power label picks the driver', (t) => {
  const config = { power: 'agent' as const, sshUser: 'root', command: 'clusterctrl off p1; sleep 2; clusterctrl on p1' };
  const target = { mac: A, ip: '198.18.0.101', hostname: 'web1' };
  t.deepEqual(powerCommand('ssh', target, config), { file: 'ssh', args: ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', 'root@198.18.0.101', 'reboot'], env: {} });
  t.deepEqual(powerCommand('command', target, config), { file: 'sh', args: ['-c', config.command], env: { BOOTFLEET_MAC: A, BOOTFLEET_IP: '198.18.0.101', BOOTFLEET_HOSTNAME: 'web1' } });
  t.throws(() => powerCommand('ssh', { ...target, ip: undefined }, config), { message: /knows no address/ });
  t.throws(() => powerCommand('command', target, { power: 'command', sshUser: 'root' }), { message: /rollout.command is not set/ });
  t.is(powerOf({ power: 'ssh' }, config), 'ssh');
  t.is(powerOf({ power: 'bogus' }, config), 'agent');
  t.is(powerOf({}, config), 'agent');
});

test('durations: 10s, 5m, 1h, plain seconds; anything else names the flag', (t) => {
  t.is(durationSeconds('10s', 'x'), 10);
  t.is(durationSeconds('5m', 'x'), 300);
  t.is(durationSeconds('1h', 'x'), 3600);
  t.is(durationSeconds('90', 'x'), 90);
  t.throws(() => durationSeconds('soon', 'boot-deadline'), { message: /--boot-deadline soon/ });
});
