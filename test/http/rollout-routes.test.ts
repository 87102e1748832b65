import test from 'ava';
import { withApp } from '../helpers/app.js';
import type { RolloutControl } from '../../src/http/rollout.js';
import type { RolloutRequest } from '../../src/rollout/plan.js';
import { BootfleetError } from '../../src/errors.js';

// POST /api/rollouts turns the form or CLI body into the plan's request; the runner is a stand-in
// that records what it was asked (its own behaviour is tested in test/rollout/ and the lab).

function recorder(): { control: RolloutControl; asked: RolloutRequest[] } {
  const asked: RolloutRequest[] = [];
  const refuse = (): never => {
    throw new BootfleetError('ERR_CONFLICT', 'not in this test');
  };
  const control: RolloutControl = {
    current: () => undefined,
    begin: (req) => {
      asked.push(req);
      throw new BootfleetError('ERR_USAGE', 'recorded');
    },
    pause: refuse, resume: refuse, abort: refuse,
  };
  return { control, asked };
}

const start = (body: unknown) => ({ method: 'POST', admin: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('the node selector may come as one string (CLI) or a list (web UI form); both reach the plan as one selector', async (t) => {
  const { control, asked } = recorder();
  const app = await withApp({ over: { rollouts: control } });
  t.teardown(() => app.close());
  await app.call('/api/rollouts', start({ image: 'tiny-web@1', nodes: 'web1,web2' }));
  await app.call('/api/rollouts', start({ image: 'tiny-web@1', nodes: ['web1', 'web2'] }));
  await app.call('/api/rollouts', start({ image: 'tiny-web@1' }));
  t.deepEqual(asked.map((r) => r.nodes), ['web1,web2', 'web1,web2', undefined]);
});

test('a node selector of another shape is refused with what to send, never ignored (which would roll every node)', async (t) => {
  const { control, asked } = recorder();
  const app = await withApp({ over: { rollouts: control } });
  t.teardown(() => app.close());
  for (const nodes of [42, { mac: 'x' }, ['web1', 7]]) {
    const r = await app.call('/api/rollouts', start({ image: 'tiny-web@1', nodes }));
    t.is(r.status, 400, JSON.stringify(nodes));
    t.regex(r.text, /nodes: give MACs, hostnames or label=value/);
  }
  t.deepEqual(asked, []);
});
