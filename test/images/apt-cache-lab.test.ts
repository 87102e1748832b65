import test from 'ava';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { fetchDebs } from '../../src/images/apt-cache.js';
import { debianBusybox, debianKernel, extractDebCached } from '../../src/images/debs.js';
import { BootfleetError } from '../../src/errors.js';

// These tests use the real cache (BOOTFLEET_CACHE or ~/.cache/bootfleet) so the lab tests and
// later runs share downloads; the first run needs Debian's archive, later ones do not.

/** A logger that records messages, to prove what a call did (or did not) run. */
function recordingLogger(): { log: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      messages.push(String((JSON.parse(String(chunk)) as { msg?: string }).msg));
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), messages };
}

/** ELF e_machine of a binary (0x3e x86-64, 0xb7 aarch64). */
async function elfMachine(path: string): Promise<number> {
  const head = await readFile(path);
  t0(head.subarray(0, 4).toString('latin1') === '\x7fELF', `${path} is not ELF`);
  return head.readUInt16LE(18);
}

function t0(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

test('busybox-static for arm64 is fetched and extracts to an aarch64 binary', async (t) => {
  const [deb, ...rest] = await fetchDebs({ arch: 'arm64', packages: ['busybox-static'] });
  t.is(rest.length, 0);
  t.truthy(deb);
  t.is(deb?.arch, 'arm64');
  t.regex(deb?.path ?? '', /busybox-static_.*_arm64\.deb$/);
  const root = await extractDebCached(deb?.path ?? '');
  t.is(await elfMachine(join(root, 'bin', 'busybox')), 0xb7);
  t.is(await debianBusybox('arm64'), join(root, 'bin', 'busybox'));
});

test('linux-image-amd64 resolves to the real kernel package and unpacks vmlinuz and modules', async (t) => {
  const [deb] = await fetchDebs({ arch: 'amd64', packages: ['linux-image-amd64'] });
  t.regex(deb?.name ?? '', /^linux-image-\d+\.\d+\.\d+-\d+-amd64$/);
  t.is(deb?.requested, 'linux-image-amd64');
  const kernel = await debianKernel('amd64');
  t.is(`linux-image-${kernel.version}`, deb?.name ?? '');
  t.true((await stat(kernel.vmlinuz)).size > 1_000_000);
  t.true((await stat(join(kernel.modulesDir, 'modules.builtin'))).isFile());
  t.is(await debianKernel('amd64'), kernel, 'memoized per process');
});

test('a second fetch is served from the cache without apt-get update or download', async (t) => {
  await fetchDebs({ arch: 'arm64', packages: ['busybox-static', 'linux-image-arm64'] });
  const { log, messages } = recordingLogger();
  const started = Date.now();
  const debs = await fetchDebs({ arch: 'arm64', packages: ['busybox-static', 'linux-image-arm64'], log });
  t.deepEqual(messages, []);
  t.is(debs.length, 2);
  t.regex(debs[1]?.name ?? '', /^linux-image-.*-arm64$/);
  t.log(`warm fetch took ${Date.now() - started} ms`);
});

test('an unknown package fails with an error naming it', async (t) => {
  const err = await t.throwsAsync(fetchDebs({ arch: 'amd64', packages: ['bootfleet-no-such-package'] }));
  t.true(err instanceof BootfleetError);
  t.regex(err?.message ?? '', /bootfleet-no-such-package.*amd64/);
});
