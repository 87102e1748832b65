import test from 'ava';
import { TransferSlots } from '../../src/tftp/limits.js';

test('slots are refused beyond the per-client cap, then beyond the global cap', (t) => {
  const slots = new TransferSlots(3, 2);
  t.is(slots.acquire('198.18.0.10'), undefined);
  t.is(slots.acquire('198.18.0.10'), undefined);
  t.is(slots.acquire('198.18.0.10'), 'client');
  t.is(slots.acquire('198.18.0.11'), undefined);
  t.is(slots.acquire('198.18.0.12'), 'server');
  t.is(slots.active, 3, 'a refusal takes nothing');
});

test('a released slot can be taken again, by the same client or another', (t) => {
  const slots = new TransferSlots(2, 1);
  t.is(slots.acquire('a'), undefined);
  t.is(slots.acquire('a'), 'client');
  slots.release('a');
  t.is(slots.acquire('a'), undefined);
  t.is(slots.acquire('b'), undefined);
  t.is(slots.acquire('c'), 'server');
  slots.release('b');
  t.is(slots.acquire('c'), undefined);
});

test('releasing a slot never taken, or after clear(), changes nothing', (t) => {
  const slots = new TransferSlots(3, 2);
  slots.release('nobody');
  t.is(slots.active, 0);
  slots.acquire('a');
  slots.clear();
  slots.release('a');
  t.is(slots.active, 0);
  t.is(slots.acquire('a'), undefined);
  t.is(slots.acquire('a'), undefined);
  t.is(slots.acquire('a'), 'client');
});
