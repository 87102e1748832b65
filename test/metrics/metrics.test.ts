import test from 'ava';
import { ControllerMetrics, serverStatus } from '../../src/metrics/metrics.js';
import type { BootEvent } from '../../src/cluster/nodes.js';

/** The value of one sample line `name{labels} value` in the exposition text, if present. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('server counters are read from the servers\' own stats when scraped', async (t) => {
  const m = new ControllerMetrics();
  let replied = 3;
  m.setSources({
    dhcp: () => ({ received: 10, malformed: 1, dropped: 2, replied }),
    tftp: () => ({ requests: 7, completed: 5, errors: 1, refused: 0, aborted: 1, malformed: 0, nativeBlocks: 99 }),
  });
  let text = (await m.render()).text;
  t.is(sample(text, 'bootfleet_dhcp_received_total'), 10);
  t.is(sample(text, 'bootfleet_dhcp_replies_total'), 3);
  t.is(sample(text, 'bootfleet_tftp_requests_total'), 7);
  t.is(sample(text, 'bootfleet_tftp_completed_total'), 5);
  replied = 8;
  text = (await m.render()).text;
  t.is(sample(text, 'bootfleet_dhcp_replies_total'), 8, 'the next scrape sees the new figure');
});

test('without a running service its counters read 0', async (t) => {
  const text = (await new ControllerMetrics().render()).text;
  t.is(sample(text, 'bootfleet_dhcp_received_total'), 0);
  t.is(sample(text, 'bootfleet_nodes{state="ready"}'), 0);
});

test('node states, pending machines, balancer figures and DHCP message types', async (t) => {
  const m = new ControllerMetrics();
  m.setSources({
    nodes: () => [{ state: 'ready', pending: false }, { state: 'ready', pending: false }, { state: 'down', pending: false }, { state: 'booting', pending: true }],
    balancer: () => [
      { site: 'shop', rate: 12.5, servers: [{ status: 'UP' }, { status: 'DOWN 1/2' }] },
      { site: 'blog', rate: 0, servers: [{ status: 'UP 2/3' }, { status: 'MAINT' }] },
    ],
  });
  m.dhcpMessage('discover');
  m.dhcpMessage('discover');
  m.dhcpMessage('offer');
  const text = (await m.render()).text;
  t.is(sample(text, 'bootfleet_nodes{state="ready"}'), 2);
  t.is(sample(text, 'bootfleet_nodes{state="down"}'), 1);
  t.is(sample(text, 'bootfleet_nodes{state="maintenance"}'), 0);
  t.is(sample(text, 'bootfleet_nodes_pending'), 1);
  t.is(sample(text, 'bootfleet_site_requests_per_second{site="shop"}'), 12.5);
  t.is(sample(text, 'bootfleet_balancer_servers{status="up"}'), 2);
  t.is(sample(text, 'bootfleet_balancer_servers{status="down"}'), 1);
  t.is(sample(text, 'bootfleet_balancer_servers{status="other"}'), 1);
  t.is(sample(text, 'bootfleet_dhcp_messages_total{type="discover"}'), 2);
});

test('boot stage durations land in the histogram once per stage and boot', async (t) => {
  const m = new ControllerMetrics();
  const at = (s: number): string => new Date(Date.parse('2025-01-01T00:00:00Z') + s * 1000).toISOString();
  const events: BootEvent[] = [];
  for (const [stage, s] of [['dhcp', 0], ['tftp', 1], ['tftp', 2], ['kernel', 8], ['init-done', 25]] as const) {
    events.push({ stage, at: at(s), detail: '' });
    m.bootEvents(events);
  }
  const text = (await m.render()).text;
  t.is(sample(text, 'bootfleet_boot_stage_seconds_count{stage="tftp"}'), 1);
  t.is(sample(text, 'bootfleet_boot_stage_seconds_sum{stage="init-done"}'), 25);
  t.is(sample(text, 'bootfleet_boot_stage_seconds_bucket{le="30",stage="init-done"}'), 1);
  t.is(sample(text, 'bootfleet_boot_stage_seconds_bucket{le="20",stage="init-done"}'), 0);
});

test('the rollout hook sets a gauge per phase and clears phases it no longer names', async (t) => {
  const m = new ControllerMetrics();
  m.setRolloutProgress({ pending: 3, draining: 1, done: 6 });
  let text = (await m.render()).text;
  t.is(sample(text, 'bootfleet_rollout_nodes{phase="pending"}'), 3);
  t.is(sample(text, 'bootfleet_rollout_nodes{phase="done"}'), 6);
  m.setRolloutProgress(undefined);
  text = (await m.render()).text;
  t.is(sample(text, 'bootfleet_rollout_nodes{phase="done"}'), undefined);
});

test('two controllers in one process keep separate registries', async (t) => {
  const a = new ControllerMetrics();
  const b = new ControllerMetrics();
  a.dhcpMessage('ack');
  t.is(sample((await a.render()).text, 'bootfleet_dhcp_messages_total{type="ack"}'), 1);
  t.is(sample((await b.render()).text, 'bootfleet_dhcp_messages_total{type="ack"}'), undefined);
});

test('HAProxy status words fold to up, down, other', (t) => {
  t.is(serverStatus('UP'), 'up');
  t.is(serverStatus('UP 1/3'), 'up');
  t.is(serverStatus('DRAIN'), 'up');
  t.is(serverStatus('DOWN'), 'down');
  t.is(serverStatus('DOWN 1/2'), 'down');
  t.is(serverStatus('MAINT'), 'other');
  t.is(serverStatus('no check'), 'other');
});
