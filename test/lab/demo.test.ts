import test from 'ava';
import { execa } from 'execa';
import { packageRoot } from '../../src/pkg.js';
import { requireLab } from '../helpers/lab.js';

// The README's first command, as a newcomer runs it (after scripts/setup-debian.sh):
// `sudo npx bootfleet demo`, here with --no-wait so it ends after its story instead of keeping
// the web UI open. Real QEMU nodes, the real tiny-web image, the managed HAProxy, the whole story
// through the rolling update; the test reads what the demo prints, as its user does.

test('lab: `npx bootfleet demo --no-wait` plays the whole story (boot, failure, return, new node, overload, new and removed site, rolling update) and cleans up', async (t) => {
  await requireLab();
  t.timeout(2_400_000);
  const r = await execa('npx', ['bootfleet', 'demo', '--no-wait'], { cwd: packageRoot(), all: true, reject: false });
  const out = r.all ?? '';
  t.log(out.split('\n').filter((l) => /^\d\.|^ {3}(rollout|nodes:)|took/.test(l)).join('\n'));
  t.is(r.exitCode, 0, `the demo ended with ${String(r.exitCode)}:\n${out.slice(-3000)}`);
  for (const step of ['1. Building', '2. The cluster boots', '3. A server fails', '4. It comes back', '5. A new server joins', '6. A site is overloaded', '7. A new website', '9. A rolling update']) {
    t.true(out.includes(step), `step "${step}" was told`);
  }
  // Step 9: every node on the new build, and the visitors, who asked every site through the
  // balancer during the whole rollout, saw no failed request.
  const rollout = /rollout (\w+): (tiny-web@\S+) on (\d+) of (\d+) nodes; visitors: (\d+) answered, (\d+) failed/.exec(out);
  t.truthy(rollout, 'the rollout summary was printed');
  t.is(rollout?.[1], 'done');
  t.is(rollout?.[3], rollout?.[4], 'every node runs the new build');
  t.true(Number(rollout?.[5]) > 100, `the visitors kept asking (${rollout?.[5] ?? '?'} answers)`);
  t.is(rollout?.[6], '0', 'no visitor request failed during the rolling update');
  // After step 8, "blog" is served by no node; "shop2" is.
  const tables = out.split('\n   site');
  const last = tables.at(-1) ?? '';
  t.false(/^ {3}blog /m.test(last), 'the removed site is gone from the placement');
  t.regex(last, /^ {3}shop2 +\S/m, 'the new site is placed');
  t.regex(out, /bootfleet demo: removed the lab/);
});
