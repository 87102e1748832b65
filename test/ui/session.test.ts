import test from 'ava';
import { Sessions } from '../../src/ui/session.js';

test('a session is valid until it expires or is ended, and ids are random 256-bit values', (t) => {
  let now = 1_000_000;
  const sessions = new Sessions({ ttlMs: 60_000, now: () => now });
  const a = sessions.create();
  const b = sessions.create();
  t.not(a.id, b.id);
  t.regex(a.id, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  t.is(a.maxAgeSeconds, 60);
  t.true(sessions.valid(a.id));
  t.false(sessions.valid('x'.repeat(43)), 'an invented id is not a session');
  sessions.end(a.id);
  t.false(sessions.valid(a.id), 'logout ends it at once');
  t.true(sessions.valid(b.id));
  now += 60_000;
  t.false(sessions.valid(b.id), 'expired after its lifetime (absolute, not renewed by use)');
  t.is(sessions.size, 0);
});

test('the number of live sessions is bounded: a login beyond it ends the oldest', (t) => {
  const sessions = new Sessions({ max: 3 });
  const ids = Array.from({ length: 5 }, () => sessions.create().id);
  t.is(sessions.size, 3);
  t.deepEqual(ids.map((id) => sessions.valid(id)), [false, false, true, true, true]);
});
