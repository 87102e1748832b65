import test from 'ava';
import { withApp, STRANGER, type TestApp } from '../helpers/app.js';
import { ControllerMetrics } from '../../src/metrics/metrics.js';
import type { HttpMetrics } from '../../src/http/metrics.js';

function httpMetrics(m: ControllerMetrics, requireToken: boolean): HttpMetrics {
  return { render: () => m.render(), httpRequest: (method, route, status) => m.httpRequest(method, route, status), requireToken };
}

async function appWith(requireToken: boolean): Promise<{ app: TestApp; metrics: ControllerMetrics }> {
  const metrics = new ControllerMetrics();
  const app = await withApp({ over: { metrics: httpMetrics(metrics, requireToken) } });
  return { app, metrics };
}

test('GET /metrics answers any host in the Prometheus text format by default', async (t) => {
  const { app } = await appWith(false);
  t.teardown(app.close);
  const res = await app.call('/metrics', { from: STRANGER });
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  t.regex(res.text, /^# HELP bootfleet_http_requests_total /m);
  t.regex(res.text, /^process_resident_memory_bytes /m, 'the process figures are there too');
});

test('requests are counted by route pattern and status: no MAC or raw path in the labels', async (t) => {
  const { app } = await appWith(false);
  t.teardown(app.close);
  app.node('52:54:00:00:00:aa');
  await app.call('/api/nodes/52:54:00:00:00:aa', { admin: true });
  await app.call('/api/nodes/52:54:00:00:00:aa');
  await app.call('/no/such/thing');
  const text = (await app.call('/metrics')).text;
  t.regex(text, /^bootfleet_http_requests_total\{method="GET",route="\/api\/nodes\/:mac",status="200"\} 1$/m);
  t.regex(text, /^bootfleet_http_requests_total\{method="GET",route="\/api\/nodes\/:mac",status="401"\} 1$/m);
  t.regex(text, /^bootfleet_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
  t.false(text.includes('52:54:00'), 'no MAC appears in /metrics');
  t.false(text.includes('/no/such'), 'no raw path appears in /metrics');
});

test('metrics.requireToken puts /metrics behind the admin token', async (t) => {
  const { app } = await appWith(true);
  t.teardown(app.close);
  const refused = await app.call('/metrics', { from: STRANGER });
  t.is(refused.status, 401);
  t.regex(refused.text, /admin token required/);
  const ok = await app.call('/metrics', { admin: true });
  t.is(ok.status, 200);
  t.regex(ok.text, /bootfleet_nodes/);
});
