import test from 'ava';
import { reconcile, type NodeFacts } from '../../src/cluster/reconcile.js';
import { balancerModel } from '../../src/cluster/balancer-model.js';
import { machineSpec, type PolicyContext } from '../../src/boot/policy.js';
import { settled } from '../../src/controller/rollout-runner.js';
import { A, B, C, cluster } from './fixtures.js';

const facts = (states: Record<string, NodeFacts['state']>): NodeFacts[] =>
  Object.entries(states).map(([mac, state]) => ({ mac, state, admitted: true, weight: 1, serving: [] }));

test('a node a rollout holds keeps its sites while it reboots (down); an unheld down node loses them', (t) => {
  const s = cluster();
  const input = { nodes: facts({ [A]: 'down', [B]: 'ready', [C]: 'ready' }), rates: {}, healthy: () => undefined, now: 0 };
  t.true(reconcile({ ...input, state: { ...s, holds: { [A]: 'maint' } } }).next.placement['alpha']?.includes(A));
  t.false(reconcile({ ...input, state: s }).next.placement['alpha']?.includes(A));
});

test('surge places extra replicas on top of a site\'s count, and they go when it is removed', (t) => {
  const s = cluster();
  const input = { nodes: facts({ [A]: 'ready', [B]: 'ready', [C]: 'ready' }), rates: {}, healthy: () => undefined, now: 0 };
  const surged = reconcile({ ...input, state: { ...s, surge: { alpha: 1 } } }).next;
  t.deepEqual([...(surged.placement['alpha'] ?? [])].sort(), [A, B, C]);
  t.is(surged.sites['alpha']?.replicas, 2, 'the site\'s own count is unchanged');
  t.is(reconcile({ ...input, state: { ...surged, surge: {} } }).next.placement['alpha']?.length, 2);
});

test('the balancer model gives a held node\'s servers the hold\'s admin state in every site', (t) => {
  const s = { ...cluster(), holds: { [A]: 'drain' as const } };
  const m = balancerModel(s, (mac) => `198.18.0.${mac.slice(-1) === 'a' ? 10 : 11}`, { listen: [{ address: '198.18.0.1', port: 80 }], stateDir: '/x' });
  const admin = m.sites.flatMap((site) => site.servers.map((x) => `${site.id}:${x.node === A ? 'A' : 'other'}:${x.admin}`)).sort();
  t.deepEqual(admin, ['alpha:A:drain', 'alpha:other:ready', 'bravo:A:drain', 'bravo:other:ready']);
  const maint = balancerModel({ ...s, holds: { [A]: 'maint' } }, () => '198.18.0.10', { listen: [], stateDir: '/x' });
  t.true(maint.sites.every((site) => site.servers.filter((x) => x.node === A).every((x) => x.admin === 'maint')));
});

test('the boot policy boots a node\'s rollout image before its approval\'s, the config\'s or the default', (t) => {
  const ctx: PolicyContext = {
    httpBase: 'http://198.18.0.1:8080', admit: { rpi: 'approve', pc: 'open' }, enrolled: [{ mac: A, image: 'enrolled', addedAt: '' }], configured: new Map(),
    defaultImage: 'default', ipxeFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'snponly-arm64.efi' }, piBoot: { kernel: 'kernel8.img', initramfs: 'initramfs8', deviceTree: '', cmdline: '' },
    findImage: (ref) => ({ name: ref.split('@')[0] ?? ref, version: '1-amd64', arch: 'amd64', dir: '/x', files: {} }),
  };
  t.is(machineSpec({ mac: A, firmware: 'bios' }, ctx).imageRef, 'enrolled');
  t.is(machineSpec({ mac: A, firmware: 'bios' }, { ...ctx, assignedImage: (mac) => (mac === A ? 'rolled@2-amd64' : undefined) }).imageRef, 'rolled@2-amd64');
  t.is(machineSpec({ mac: B, firmware: 'bios' }, { ...ctx, assignedImage: () => undefined }).imageRef, 'default');
});

test('settled: no hand-over, no site over its count (with surge)', (t) => {
  const s = cluster();
  t.true(settled(s));
  t.false(settled({ ...s, retiring: { alpha: [C] } }));
  t.false(settled({ ...s, placement: { ...s.placement, alpha: [A, B, C] } }));
  t.true(settled({ ...s, placement: { ...s.placement, alpha: [A, B, C] }, surge: { alpha: 1 } }));
});

test('a hand-over behind a checking balancer waits for a passing check on the new node; unknown (a new server still in MAINT) is not enough', (t) => {
  const s = cluster();
  const site = s.sites['alpha'];
  if (!site?.content) throw new Error('fixture: alpha has content');
  const served = `alpha@${site.content.version}`;
  // alpha moves from A to C (A drains); C already serves the content.
  const nodes: NodeFacts[] = [
    { mac: A, state: 'draining', admitted: true, weight: 1, serving: [served] },
    { mac: B, state: 'ready', admitted: true, weight: 1, serving: [served] },
    { mac: C, state: 'ready', admitted: true, weight: 1, serving: [served] },
  ];
  const step = (healthy: boolean | undefined, checked: boolean) => reconcile({ state: s, nodes, rates: {}, now: 0, checked, healthy: (_site, mac) => (mac === C ? healthy : true) }).next;
  const moved = step(undefined, true);
  t.false(moved.placement['alpha']?.includes(A), 'alpha left the draining node');
  t.deepEqual(moved.retiring['alpha'], [A], 'checked, unknown on the new node: the old one keeps serving');
  t.deepEqual(step(false, true).retiring['alpha'], [A], 'failing: kept');
  t.is(step(true, true).retiring['alpha'], undefined, 'passing: handed over');
  t.is(step(undefined, false).retiring['alpha'], undefined, 'no checking balancer: nothing more to wait for');
});
