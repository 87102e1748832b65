import test from 'ava';
import { TftpCache } from '../../src/tftp/cache.js';

const bytes = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

test('entries beyond the byte budget evict the least recently used first', (t) => {
  const cache = new TftpCache(300);
  cache.set('a', bytes(100));
  cache.set('b', bytes(100));
  cache.set('c', bytes(100));
  t.truthy(cache.get('a'), 'a is now the most recently used');
  cache.set('d', bytes(100));
  t.deepEqual(['a', 'b', 'c', 'd'].filter((k) => cache.has(k)), ['a', 'c', 'd']);
  t.is(cache.bytes, 300);
  cache.set('e', bytes(250));
  t.deepEqual(['a', 'c', 'd', 'e'].filter((k) => cache.has(k)), ['e'], 'as many as needed go');
  t.is(cache.bytes, 250);
  t.is(cache.stats.evictions, 4);
});

test('replacing a key frees its old bytes; data larger than the budget is not stored', (t) => {
  const cache = new TftpCache(100);
  cache.set('a', bytes(60));
  cache.set('a', bytes(80));
  t.is(cache.bytes, 80);
  t.false(cache.set('huge', bytes(101)));
  t.false(cache.has('huge'));
  t.true(cache.has('a'), 'an oversized file does not empty the cache');
  t.false(new TftpCache(0).set('x', bytes(1)), 'a budget of 0 caches nothing');
});

test('concurrent loads of one key share a single read, later loads hit the cache', async (t) => {
  const cache = new TftpCache(1000);
  let reads = 0;
  const read = async (): Promise<Buffer> => {
    reads++;
    await new Promise((r) => setTimeout(r, 10));
    return bytes(10, 7);
  };
  const [a, b] = await Promise.all([cache.load('k', read), cache.load('k', read)]);
  t.is(a, b);
  t.is(await cache.load('k', read), a);
  t.is(reads, 1);
  t.like(cache.stats, { hits: 1 });
});

test('a load that finds nothing or fails stores nothing and can be retried', async (t) => {
  const cache = new TftpCache(1000);
  t.is(await cache.load('gone', async () => undefined), undefined);
  await t.throwsAsync(cache.load('bad', async () => Promise.reject(new Error('EIO'))), { message: 'EIO' });
  t.is(cache.size, 0);
  t.deepEqual(await cache.load('bad', async () => bytes(3)), bytes(3));
});

test('a budget that is not a whole number of bytes is refused', (t) => {
  t.throws(() => new TftpCache(-1), { instanceOf: RangeError });
  t.throws(() => new TftpCache(1.5), { instanceOf: RangeError });
});
