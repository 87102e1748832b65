import test from 'ava';
import { negotiate } from '../../src/tftp/options.js';

const limits = { maxBlksize: 1468, maxWindowsize: 64, defaultTimeoutMs: 1000, maxTimeoutSeconds: 255 };
const opts = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));

test('without options there is no OACK and RFC 1350 defaults apply', (t) => {
  t.deepEqual(negotiate(new Map(), 10, limits), { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: undefined });
});

test('a Pi 4 request (tsize 0, blksize 1024) gets the real size and its blksize', (t) => {
  const r = negotiate(opts({ tsize: '0', blksize: '1024' }), 4_000_000, limits);
  t.is(r.blksize, 1024);
  t.deepEqual(r.oack, opts({ tsize: '4000000', blksize: '1024' }));
});

test('blksize above the cap is answered with the cap', (t) => {
  const r = negotiate(opts({ blksize: '65464' }), 1, limits);
  t.is(r.blksize, 1468);
  t.is(r.oack?.get('blksize'), '1468');
});

test('out-of-range or non-numeric values are left out of the OACK', (t) => {
  const cases: Array<Record<string, string>> = [{ blksize: '7' }, { blksize: '65465' }, { blksize: 'big' }, { timeout: '0' }, { timeout: '256' }, { windowsize: '0' }, { windowsize: '65536' }, { tsize: '-1' }];
  for (const o of cases) {
    const r = negotiate(opts(o), 1, limits);
    t.is(r.oack, undefined, JSON.stringify(o));
    t.is(r.blksize, 512);
  }
});

test('unknown options are ignored (RFC 2347)', (t) => {
  t.deepEqual(negotiate(opts({ multicast: '', utimeout: '5000' }), 1, limits).oack, undefined);
});

test('timeout and windowsize are accepted and windowsize capped', (t) => {
  const r = negotiate(opts({ timeout: '3', windowsize: '100' }), 1, limits);
  t.is(r.timeoutMs, 3000);
  t.is(r.windowsize, 64);
  t.deepEqual(r.oack, opts({ timeout: '3', windowsize: '64' }));
});

test('a timeout above maxTimeoutSeconds is left out of the OACK and the default timeout used (RFC 2349 echoes, never lowers)', (t) => {
  const capped = { ...limits, maxTimeoutSeconds: 10 };
  const huge = negotiate(opts({ timeout: '255', tsize: '0' }), 7, capped);
  t.is(huge.timeoutMs, 1000);
  t.deepEqual(huge.oack, opts({ tsize: '7' }));
  const atCap = negotiate(opts({ timeout: '10' }), 7, capped);
  t.is(atCap.timeoutMs, 10_000);
  t.deepEqual(atCap.oack, opts({ timeout: '10' }));
  t.is(negotiate(opts({ timeout: '11' }), 7, capped).oack, undefined, 'alone, a refused timeout means no OACK at all');
});
