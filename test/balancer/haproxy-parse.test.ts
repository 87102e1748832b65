import test from 'ava';
import { parseShowProc } from '../../src/balancer/haproxy/master.js';
import { filterServersState, isFresh, parseServersState, parseStat } from '../../src/balancer/haproxy/runtime.js';
import { parseCsvLine } from '../../src/balancer/haproxy/socket.js';
import { actualServers, planRuntime, type DesiredServer } from '../../src/balancer/haproxy/converge.js';

// Replies captured from Debian's haproxy 2.6.12 (trimmed to the fields used).

const SHOW_PROC = `#<PID>          <type>          <reloads>       <uptime>        <version>      
4328            master          1 [failed: 0]   0d00h00m01s     2.6.12-1+deb12u4
# workers
4460            worker          0               0d00h00m01s     2.6.12-1+deb12u4
# old workers
4365            worker          1               0d00h00m01s     2.6.12-1+deb12u4
# programs

`;

const SERVERS_STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
4 be_a 1 n1 127.0.0.1 2 8 1 1 4 15 3 4 6 0 0 0 - 19001 - 0 0 - - 0
4 be_a 2 n2 127.0.0.1 0 5 1 1 4 1 0 0 14 0 0 0 - 19002 - 0 0 - - 0
4 be_a 3 n3 127.0.0.1 2 0 0 0 4 15 3 4 6 0 0 0 - 19002 - 0 0 - - 0
`;

test('show proc: master reloads and failed count, current and old workers', (t) => {
  t.deepEqual(parseShowProc(SHOW_PROC), { masterPid: 4328, reloads: 1, failed: 0, workers: [{ pid: 4460, reloads: 0 }], oldWorkers: [{ pid: 4365, reloads: 1 }] });
  t.is(parseShowProc(SHOW_PROC.replace('1 [failed: 0]', '4 [failed: 1]')).failed, 1);
  t.throws(() => parseShowProc('Unknown command'), { message: /unexpected "show proc" reply/ });
});

test('show stat: fields by header name, quoted CSV fields kept whole', (t) => {
  t.deepEqual(parseCsvLine('a,"b,c",,"d""e"'), ['a', 'b,c', '', 'd"e']);
  const rows = parseStat('# pxname,svname,scur,status,check_status,check_rise,check_fall,check_health,check_desc\nbe_a,n1,3,DRAIN,* L7OK,3,2,4,"Layer7 check passed, fine"\n\n');
  t.is(rows.length, 1);
  t.is(rows[0]?.check_desc, 'Layer7 check passed, fine');
  t.true(isFresh(rows[0] ?? {}));
  t.false(isFresh({ ...rows[0], status: 'DRAIN 1/2' }), 'health = rise, right after leaving MAINT');
  t.false(isFresh({ ...rows[0], check_health: '3' }));
  t.false(isFresh({ ...rows[0], check_status: 'L4TOUT' }));
  t.throws(() => parseStat('Permission denied.\n'));
});

test('show servers state: rows by header; filtering keeps version and header', (t) => {
  const rows = parseServersState(SERVERS_STATE);
  t.is(rows.length, 3);
  t.is(rows[1]?.srv_admin_state, '5');
  t.is(rows[2]?.srv_port, '19002');
  const kept = filterServersState(SERVERS_STATE, (r) => r.srv_name === 'n2');
  t.deepEqual(parseServersState(kept).map((r) => r.srv_name), ['n1', 'n3']);
  t.true(kept.startsWith('1\n# be_id be_name'));
});

test('planRuntime: only the commands needed; MAINT to READY goes through readmit', (t) => {
  const stat = parseStat('# pxname,svname,status\nbe_a,n1,DRAIN\nbe_a,n2,MAINT\nbe_a,n3,UP\n');
  const actual = actualServers(parseServersState(SERVERS_STATE), stat);
  t.deepEqual(actual.get('be_a/n1'), { maint: false, drain: true, weight: 1 });
  t.deepEqual(actual.get('be_a/n2'), { maint: true, drain: false, weight: 1 });
  const want = (n1: DesiredServer['admin'], n2: DesiredServer['admin'], n3: DesiredServer['admin'], w3 = 1): DesiredServer[] => [
    { backend: 'be_a', server: 'n1', admin: n1, weight: 1 },
    { backend: 'be_a', server: 'n2', admin: n2, weight: 1 },
    { backend: 'be_a', server: 'n3', admin: n3, weight: w3 },
  ];
  t.deepEqual(planRuntime(want('drain', 'maint', 'ready', 0), actual), [], 'already so');
  t.deepEqual(planRuntime(want('ready', 'ready', 'ready', 2), actual), [
    { op: 'ready', backend: 'be_a', server: 'n1' },
    { op: 'readmit', backend: 'be_a', server: 'n2' },
    { op: 'weight', backend: 'be_a', server: 'n3', weight: 2 },
  ]);
  t.deepEqual(planRuntime(want('maint', 'drain', 'drain', 0), actual), [
    { op: 'maint', backend: 'be_a', server: 'n1' },
    { op: 'drain', backend: 'be_a', server: 'n2' },
    { op: 'drain', backend: 'be_a', server: 'n3' },
  ]);
  t.deepEqual(planRuntime([{ backend: 'be_x', server: 'n9', admin: 'maint', weight: 1 }], actual), [], 'unknown servers are skipped');
});

test('planRuntime: a server that takes traffic again is told before one that stops (a site moving between nodes never has none)', (t) => {
  const stat = parseStat('# pxname,svname,status\nbe_a,n1,DRAIN\nbe_a,n2,MAINT\nbe_a,n3,UP\n');
  const actual = actualServers(parseServersState(SERVERS_STATE), stat);
  // n3 (serving) is to drain, n1 (drained) to take traffic, n2 (MAINT) to come back through checks.
  const steps = planRuntime([
    { backend: 'be_a', server: 'n3', admin: 'drain', weight: 1 },
    { backend: 'be_a', server: 'n1', admin: 'ready', weight: 1 },
    { backend: 'be_a', server: 'n2', admin: 'ready', weight: 1 },
  ], actual);
  t.deepEqual(steps.map((s) => `${s.op} ${s.server}`), ['ready n1', 'readmit n2', 'drain n3']);
});
