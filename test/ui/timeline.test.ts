import test from 'ava';
import { bootTimeline, formatDuration } from '../../src/ui/timeline.js';
import type { BootEvent, BootStage } from '../../src/cluster/nodes.js';

const at = (s: number): string => new Date(Date.UTC(2025, 0, 1, 12, 0, 0) + s * 1000).toISOString();
const ev = (stage: BootStage, s: number, detail = ''): BootEvent => ({ stage, at: at(s), detail });

test('a PXE boot: DHCP → TFTP → kernel → rootfs → ready with the time each step took', (t) => {
  const tl = bootTimeline([
    ev('dhcp', 0), ev('tftp', 0.5, 'undionly.kpxe'), ev('dhcp', 2), ev('ipxe-script', 2.2), ev('kernel', 3), ev('initrd', 4),
    ev('initramfs', 10), ev('dhcp', 10.5), ev('rootfs-fetched', 20), ev('verified', 21), ev('switched', 22), ev('init-done', 25), ev('agent', 26),
  ]);
  t.deepEqual(tl?.steps.map((s) => [s.label, s.ms]), [['DHCP', undefined], ['TFTP', 500], ['kernel', 2500], ['rootfs', 17_000], ['ready', 5000]]);
  t.is(tl?.totalMs, 25_000);
  t.is(tl?.failed, undefined);
});

test('only the last boot counts: a reboot starts again at its DHCP, and later lease renewals do not', (t) => {
  const first = [ev('dhcp', 0), ev('kernel', 1), ev('rootfs-fetched', 5), ev('init-done', 8)];
  const second = [ev('reboot', 100), ev('dhcp', 110), ev('ipxe-script', 111), ev('kernel', 112), ev('initramfs', 115), ev('rootfs-fetched', 118), ev('agent', 120), ev('dhcp', 1900, 'renewal')];
  const tl = bootTimeline([...first, ...second]);
  t.is(tl?.steps[0]?.at, at(110));
  t.deepEqual(tl?.steps.map((s) => s.ms), [undefined, undefined, 2000, 6000, 2000]);
  t.false(tl?.steps[1]?.at !== undefined, 'no TFTP step for a NIC whose ROM is iPXE already');
  t.is(tl?.totalMs, 10_000);
});

test('a boot in progress shows the steps not reached yet, and a refused root is reported', (t) => {
  const tl = bootTimeline([ev('dhcp', 0), ev('kernel', 2), ev('initramfs', 6), ev('verify-failed', 9, 'sha256 mismatch')]);
  t.deepEqual(tl?.steps.map((s) => s.at !== undefined), [true, false, true, false, false]);
  t.is(tl?.failed, 'verify-failed: sha256 mismatch');
});

test('no timeline for a node that only asked for an address (a pending one)', (t) => {
  t.is(bootTimeline([ev('dhcp', 0), ev('dhcp', 4)]), undefined);
  t.is(bootTimeline([]), undefined);
});

test('durations read as an operator says them', (t) => {
  t.is(formatDuration(850), '850 ms');
  t.is(formatDuration(4200), '4.2 s');
  t.is(formatDuration(42_000), '42 s');
  t.is(formatDuration(185_000), '3 min 5 s');
});
