import test from 'ava';
import { execa } from 'execa';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { balancerRenderCommand } from '../../src/balancer/command.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import { model, requireTool, server, site, tempDir } from './helpers.js';

test('balancer render writes the kind\'s files into --out, and haproxy -c accepts them', async (t) => {
  await requireTool('haproxy', 'haproxy');
  const dir = await tempDir(t);
  const file = join(dir, 'model.json');
  await writeFile(file, JSON.stringify(model(dir, 8080, [site('shop', ['shop.example'], [server(1, 8001)], { listen: { address: '127.0.0.1', port: 9001 } })])));
  const lines: string[] = [];
  const files = await balancerRenderCommand({ kind: 'haproxy', model: file }, (s) => lines.push(s));
  t.deepEqual(files.map((f) => f.path), ['haproxy.cfg', 'sites.map']);
  t.deepEqual(lines, [`wrote ${dir}/haproxy.cfg\n`, `wrote ${dir}/sites.map\n`]);
  const r = await execa('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { reject: false, all: true });
  t.is(r.exitCode, 0, r.all);
  await balancerRenderCommand({ kind: 'pen', model: file, out: join(dir, 'pen') }, () => undefined);
  t.is((await stat(join(dir, 'pen', 'pen.sh'))).mode & 0o777, 0o755);
});

test('balancer render names the model file and each field to fix; a wrong kind is a usage error', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'model.yaml');
  await writeFile(file, `listen: [{ address: 127.0.0.1, port: 8080 }]\ngeneration: 1\npaths: { stateDir: ${dir} }\nsites:\n  - { id: a, domains: [A.example], servers: [], check: { path: /h, status: 200 } }\n`);
  const err = await t.throwsAsync(balancerRenderCommand({ kind: 'nginx', model: file }, () => undefined), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', new RegExp(`^${file} is invalid:\\n  - sites\\[0\\]\\.domains\\[0\\]: "A\\.example" is not a lower-case host name`));
  await t.throwsAsync(balancerRenderCommand({ kind: 'varnish', model: file }, () => undefined), { instanceOf: UsageError, message: /--kind varnish: use one of haproxy, nginx, apache, pen, keepalived/ });
  await t.throwsAsync(balancerRenderCommand({ kind: 'haproxy', model: join(dir, 'missing.json') }, () => undefined), { instanceOf: UsageError });
});
