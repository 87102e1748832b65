import test from 'ava';
import { LiveLine, bar, buildStatus, uploadStatus } from '../../src/commands/live-line.js';

function fakeTerminal(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  let text = '';
  return { isTTY, columns: 60, write: (s: string) => ((text += s), true), text: () => text } as unknown as NodeJS.WriteStream & { text: () => string };
}

test('bars and status lines', (t) => {
  t.is(bar(0, 10), '[----------]');
  t.is(bar(0.5, 10), '[#####-----]');
  t.is(bar(2, 4), '[####]');
  t.is(uploadStatus('shop', 512 * 1024, 2 * 1024 * 1024), `uploading shop  512.0 KiB / 2.0 MiB ${bar(0.25)}  25%`);
  t.is(buildStatus('initramfs', 'amd64', 12.7, 3), 'building initramfs amd64 … 12 s  (3 stages done)');
  t.is(buildStatus('fetch', 'arm64', 0, 1), 'building fetch arm64 … 0 s  (1 stage done)');
});

test('on a terminal the status line is redrawn in place and kept below printed lines', (t) => {
  const term = fakeTerminal(true);
  const live = new LiveLine(term);
  t.true(live.enabled);
  live.update('building fetch amd64 … 1 s');
  live.print('fetch      amd64              3.20 s');
  live.done();
  t.is(term.text(), '\r\x1b[2Kbuilding fetch amd64 … 1 s\r\x1b[2Kfetch      amd64              3.20 s\nbuilding fetch amd64 … 1 s\r\x1b[2K');
});

test('not on a terminal: no status line, no control characters, printed lines only', (t) => {
  const pipe = fakeTerminal(false);
  const live = new LiveLine(pipe);
  t.false(live.enabled);
  live.update('building …');
  live.print('fetch done');
  live.done();
  t.is(pipe.text(), 'fetch done\n');
});

test('the status line is cut to the terminal width', (t) => {
  const term = fakeTerminal(true);
  new LiveLine(term).update('x'.repeat(200));
  t.is(term.text(), `\r\x1b[2K${'x'.repeat(59)}`);
});
