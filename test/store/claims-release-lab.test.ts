import test from 'ava';
import { EtcdAddressClaims } from '../../src/store/etcd/claims.js';
import { localEtcd } from '../helpers/etcd.js';

// Found by the 1,000-client burst (docs/benchmarks.md, Scale-out): both controllers offered one
// address to one MAC, the client took ctl-a's offer, ctl-a ACKed it (its claim extended the
// shared one: same MAC), and ctl-b, withdrawing its own offer, then deleted that claim; the
// address went to a second MAC. A release must only give back a claim this controller holds.

test('withdrawing an offer never frees an address the other controller has ACKed to the same MAC', async (t) => {
  const { connect } = await localEtcd(t);
  const now = 1_000_000;
  const a = new EtcdAddressClaims(await connect(), () => now, { holder: 'ctl-a' });
  const b = new EtcdAddressClaims(await connect(), () => now, { holder: 'ctl-b' });
  const ip = '198.18.4.56';
  t.deepEqual(await a.claim(ip, 'mac-1', now + 60_000), { ok: true }, 'ctl-a offers');
  t.deepEqual(await b.claim(ip, 'mac-1', now + 60_000), { ok: true }, 'ctl-b offers the same address to the same MAC');
  t.deepEqual(await a.claim(ip, 'mac-1', now + 3_600_000), { ok: true }, 'the client took ctl-a\'s offer: ctl-a ACKs');
  t.deepEqual(await b.claim(ip, 'mac-1', now + 60_000), { ok: true }, 'a late DISCOVER reaches ctl-b: same MAC, still fine');
  await b.release(ip, 'mac-1'); // ctl-b sees the REQUEST naming ctl-a and withdraws its offer
  t.deepEqual(await b.claim(ip, 'mac-2', now + 60_000), { ok: false, mac: 'mac-1', until: now + 3_600_000 }, 'the bound address stays mac-1\'s');
});

test('an offer nobody took is given back: the address is free for the next client', async (t) => {
  const { connect } = await localEtcd(t);
  const now = 1_000_000;
  const a = new EtcdAddressClaims(await connect(), () => now, { holder: 'ctl-a' });
  const b = new EtcdAddressClaims(await connect(), () => now, { holder: 'ctl-b' });
  t.deepEqual(await a.claim('198.18.4.57', 'mac-1', now + 60_000), { ok: true });
  await b.release('198.18.4.57', 'mac-1');
  t.deepEqual(await b.claim('198.18.4.57', 'mac-2', now + 60_000), { ok: false, mac: 'mac-1', until: now + 60_000 }, 'ctl-b cannot give back ctl-a\'s offer');
  await a.release('198.18.4.57', 'mac-1');
  t.deepEqual(await b.claim('198.18.4.57', 'mac-2', now + 60_000), { ok: true }, 'ctl-a gave its own offer back');
});
