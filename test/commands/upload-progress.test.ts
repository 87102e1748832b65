import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withApp, ADMIN_TOKEN } from '../helpers/app.js';
import { adminClient } from '../../src/commands/client.js';
import { validateSite } from '../../src/cluster/sites.js';
import { tarOf } from '../helpers/tar.js';

// A content upload streamed with progress reaches the real HTTP app whole (admin API, real fetch).

test('an upload with progress streams the body in chunks, reports each, and the controller stores it intact', async (t) => {
  const app = await withApp();
  t.teardown(app.close);
  await app.cluster.change((s) => {
    s.sites['shop'] = validateSite({ name: 'shop', domains: ['shop.example'] }, s);
  });
  const dir = await mkdtemp(join(tmpdir(), 'bf-upload-'));
  const config = join(dir, 'bootfleet.yaml');
  await writeFile(config, 'controller: { interface: br0, address: 198.18.0.1, stateDir: ./state }\ndhcp: { mode: off }\n');
  process.env['BOOTFLEET_URL'] = app.base;
  process.env['BOOTFLEET_TOKEN'] = ADMIN_TOKEN;
  const tar = await tarOf({ 'index.html': 'shop', 'big.bin': randomBytes(900 * 1024).toString('base64') });
  const seen: Array<[number, number]> = [];
  const client = await adminClient(config);
  const content = await client.request<{ sha256: string; size: number }>('PUT', '/api/sites/shop/content', tar, { onUpload: (sent, total) => seen.push([sent, total]) });
  t.true(seen.length >= 4, `${seen.length} progress reports`);
  t.deepEqual(seen.at(-1), [tar.length, tar.length]);
  t.true(seen.every(([sent], i) => i === 0 || sent > (seen[i - 1]?.[0] ?? 0)), 'bytes sent only grow');
  t.is(content.sha256, createHash('sha256').update(tar).digest('hex'));
  t.is(content.size, tar.length);
});
