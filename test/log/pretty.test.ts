import test from 'ava';
import { prettyLine } from '../../src/log-pretty.js';
import { logFormat } from '../../src/log.js';

test('a pino record becomes a short line: time, level, subsystem, message, fields', (t) => {
  const time = new Date(2025, 0, 1, 12, 0, 1).getTime();
  const line = prettyLine(JSON.stringify({ level: 30, time, sub: 'dhcp', iface: 'br0', ports: [67], msg: 'DHCP server listening' }));
  t.is(line, '12:00:01 INFO  dhcp: DHCP server listening iface=br0 ports=[67]\n');
  t.is(prettyLine(JSON.stringify({ level: 50, time, msg: 'x', why: 'two words' })), '12:00:01 ERROR x why="two words"\n');
});

test('an error carries its stack on the next lines; a line that is not JSON passes unchanged', (t) => {
  const out = prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'http request failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } }));
  t.regex(out, /http request failed\n {4}Error: boom\n {8}at x\n$/);
  t.is(prettyLine('plain text'), 'plain text\n');
});

test('JSON unless stderr is a terminal; BOOTFLEET_LOG_FORMAT decides when set', (t) => {
  t.is(logFormat(undefined, false), 'json');
  t.is(logFormat(undefined, true), 'pretty');
  t.is(logFormat('json', true), 'json');
  t.is(logFormat('pretty', false), 'pretty');
  t.is(logFormat('other', false), 'json');
});
