import test from 'ava';
import { checkRouterSolicitation, encodeRouterAdvert, decodeRouterAdvert, encodeRouterSolicit, NULL_ADVERT } from '../../src/ra/ndp.js';

const LL = 'fe80::1';

test('the null RA is 16 bytes: type 134, code 0, hop limit 0, M=O=0, lifetime 0 (RFC 4861 §4.2)', (t) => {
  t.deepEqual(encodeRouterAdvert(NULL_ADVERT), Buffer.from('8600000000000000' + '0000000000000000', 'hex'));
  t.deepEqual(decodeRouterAdvert(encodeRouterAdvert({ ...NULL_ADVERT, managed: true, routerLifetime: 1800 })), {
    ...NULL_ADVERT, managed: true, routerLifetime: 1800, optionTypes: [],
  });
});

test('a plain RS from a link-local address with hop limit 255 is valid', (t) => {
  t.deepEqual(checkRouterSolicitation(encodeRouterSolicit(), 255, LL), { ok: true });
  const withSlla = Buffer.concat([encodeRouterSolicit(), Buffer.from('0101525400123456', 'hex')]);
  t.deepEqual(checkRouterSolicitation(withSlla, 255, LL), { ok: true });
});

const invalid: Array<[string, Buffer, number, string, RegExp]> = [
  ['a hop limit below 255 (off-link sender)', encodeRouterSolicit(), 64, LL, /hop limit/],
  ['a non-zero code', Buffer.from('8501000000000000', 'hex'), 255, LL, /code/],
  ['fewer than 8 bytes', Buffer.from('850000', 'hex'), 255, LL, /less than 8/],
  ['an option of length 0', Buffer.from('85000000000000000100', 'hex'), 255, LL, /length 0/],
  ['an option running past the end', Buffer.from('850000000000000001025254', 'hex'), 255, LL, /past the end/],
  ['a source link-layer option from ::', Buffer.from('85000000000000000101525400123456', 'hex'), 255, '::', /from ::/],
];
for (const [what, payload, hops, src, reason] of invalid) {
  test(`an RS with ${what} is rejected (RFC 4861 §6.1.1)`, (t) => {
    const r = checkRouterSolicitation(payload, hops, src);
    t.false(r.ok);
    t.regex(r.ok ? '' : r.reason, reason);
  });
}
