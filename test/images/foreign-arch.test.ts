import test from 'ava';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootfleetError } from '../../src/errors.js';
import {
  foreignArchFacts, foreignArchMessage, foreignArchProblems, requireForeignArchSupport, type ForeignArchEnv, type ForeignArchFacts,
} from '../../src/images/rootfs/foreign-arch.js';

// The foreign-arch check says, for each way an arm64 debian build on x86 can be blocked, what to
// run and where (here or on the host). The machine is faked in a temp dir: no root needed.

const ROOT_STATUS = 'Uid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n';
const UNPRIVILEGED_CONTAINER = 'Uid:\t0\t0\t0\t0\nCapEff:\t00000000a80425fb\n'; // docker's default set: no CAP_SYS_ADMIN
const ENABLED_F = 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n';

interface FakeMachine {
  mounted?: boolean;
  handler?: string; // contents of <binfmt>/qemu-aarch64
  status?: string;
  qemuStatic?: boolean;
  updateBinfmts?: boolean;
  archTest?: 'ok' | 'fails' | 'missing';
  container?: boolean;
}

async function fakeMachine(t: { teardown: (f: () => Promise<void>) => void }, m: FakeMachine): Promise<ForeignArchEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-foreign-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const binfmt = join(dir, 'binfmt_misc');
  await mkdir(binfmt);
  if (m.mounted ?? true) {
    await writeFile(join(binfmt, 'status'), 'enabled\n');
    await writeFile(join(binfmt, 'register'), '');
  }
  if (m.handler !== undefined) await writeFile(join(binfmt, 'qemu-aarch64'), m.handler);
  await writeFile(join(dir, 'status'), m.status ?? ROOT_STATUS);
  if (m.qemuStatic ?? true) await writeFile(join(dir, 'qemu-aarch64-static'), '');
  if (m.updateBinfmts ?? true) await writeFile(join(dir, 'update-binfmts'), '');
  const archTest = join(dir, 'arch-test');
  const mode = m.archTest ?? 'ok';
  if (mode !== 'missing') {
    await writeFile(archTest, mode === 'ok' ? '#!/bin/sh\necho "$1: ok"\n' : '#!/bin/sh\necho "$1: not supported on this machine/kernel"\nexit 1\n');
    await chmod(archTest, 0o755);
  }
  if (m.container) await writeFile(join(dir, '.dockerenv'), '');
  return {
    hostArch: 'amd64',
    binfmtDir: binfmt,
    qemuStatic: () => join(dir, 'qemu-aarch64-static'),
    updateBinfmts: join(dir, 'update-binfmts'),
    archTest,
    procStatus: join(dir, 'status'),
    containerMarkers: [join(dir, '.dockerenv')],
  };
}

async function problemsOf(t: Parameters<typeof fakeMachine>[0], m: FakeMachine): Promise<{ facts: ForeignArchFacts; problems: string[] }> {
  const facts = await foreignArchFacts('arm64', await fakeMachine(t, m));
  return { facts, problems: foreignArchProblems(facts) };
}

test('an enabled handler whose programs run passes; the host arch needs nothing at all', async (t) => {
  t.deepEqual((await problemsOf(t, { handler: ENABLED_F })).problems, []);
  const env = await fakeMachine(t, { mounted: false, archTest: 'missing', qemuStatic: false });
  await t.notThrowsAsync(requireForeignArchSupport('amd64', env));
});

test('binfmt_misc not mounted, as root: mount it and enable the handler, here', async (t) => {
  const { facts, problems } = await problemsOf(t, { mounted: false, archTest: 'fails' });
  t.false(facts.mounted);
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /^binfmt_misc is not mounted at \S+binfmt_misc\. Run here, as root: mount -t binfmt_misc binfmt_misc \S+ && update-binfmts --enable qemu-aarch64$/);
});

test('binfmt_misc not mounted in an unprivileged container: cannot mount here, says what to run on the host', async (t) => {
  const { facts, problems } = await problemsOf(t, { mounted: false, archTest: 'fails', status: UNPRIVILEGED_CONTAINER, container: true });
  t.regex(facts.blocked ?? '', /CAP_SYS_ADMIN/);
  t.is(problems.length, 1);
  const p = problems[0] ?? '';
  t.regex(p, /cannot be mounted here \(this process lacks CAP_SYS_ADMIN/);
  t.regex(p, /not namespaced; this looks like a container: \S+\.dockerenv exists\)/);
  t.regex(p, /on the host, as root, run: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64/);
  t.notRegex(p, /Run here/);
});

test('in a container whose host enabled the handler (F flag), programs run: no problem even though binfmt_misc is not visible', async (t) => {
  t.deepEqual((await problemsOf(t, { mounted: false, archTest: 'ok', status: UNPRIVILEGED_CONTAINER, container: true })).problems, []);
});

test('qemu-user-static not installed: install it here (and the handler is not registered yet)', async (t) => {
  const { problems } = await problemsOf(t, { qemuStatic: false, archTest: 'fails' });
  t.is(problems.length, 2);
  t.regex(problems[0] ?? '', /^not installed: qemu-user-static \(.*Run here, as root: apt-get install qemu-user-static$/);
  t.regex(problems[1] ?? '', /handler qemu-aarch64 is not registered in the kernel .*Run here, as root, once qemu-user-static and binfmt-support are installed: update-binfmts --enable qemu-aarch64/);
});

test('installed but not registered (update-binfmts --disable unregisters): enable it here', async (t) => {
  const { problems } = await problemsOf(t, { archTest: 'fails' });
  t.deepEqual(problems.length, 1);
  t.regex(problems[0] ?? '', /^the handler qemu-aarch64 is not registered in the kernel \(\S+qemu-aarch64 is missing\)\. Run here, as root: update-binfmts --enable qemu-aarch64$/);
});

test('nothing installed: one apt-get line names all three packages', async (t) => {
  const { problems } = await problemsOf(t, { qemuStatic: false, updateBinfmts: false, archTest: 'missing' });
  t.regex(problems[0] ?? '', /apt-get install qemu-user-static binfmt-support arch-test$/);
});

test('handler registered but disabled: enable it here, or on the host when its files are read-only', async (t) => {
  const here = await problemsOf(t, { handler: 'disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n', archTest: 'fails' });
  t.false(here.facts.fixBinary && here.facts.handlerState === 'enabled');
  t.is(here.facts.handlerState, 'disabled');
  t.deepEqual(here.problems, [`the handler qemu-aarch64 is registered but disabled (${join(here.facts.binfmtDir, 'qemu-aarch64')} says so). Run here, as root: echo 1 > ${join(here.facts.binfmtDir, 'qemu-aarch64')}`]);

  // A container's /proc/sys is read-only: access(register, W_OK) fails with EROFS. Root ignores
  // mode bits, so the fake cannot make that happen; the gathered facts get the reason directly.
  const ro = foreignArchProblems({ ...here.facts, blocked: '/proc/sys/fs/binfmt_misc/register is not writable (EROFS: mounted read-only, as in a container)' });
  t.regex(ro[0] ?? '', /registered but disabled and cannot be enabled here \(.*register is not writable \(EROFS.*\)\)\. Binfmt handlers belong to the host's kernel.*on the host, as root, run: .*echo 1 > \S+qemu-aarch64;/);
  t.notRegex(ro[0] ?? '', /Run here/);
});

test('arch-test missing: mmdebstrap needs it for a foreign arch, so install it', async (t) => {
  const { problems } = await problemsOf(t, { handler: ENABLED_F, archTest: 'missing' });
  t.deepEqual(problems.length, 1);
  t.regex(problems[0] ?? '', /not installed: arch-test .*apt-get install arch-test$/);
});

test('handler enabled without the F flag needs qemu-user-static here, since mmdebstrap copies it into the root', async (t) => {
  const withF = await problemsOf(t, { handler: ENABLED_F, qemuStatic: false });
  t.deepEqual(withF.problems, []);
  const withoutF = await problemsOf(t, { handler: 'enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: \n', qemuStatic: false });
  t.regex(withoutF.problems[0] ?? '', /apt-get install qemu-user-static$/);
});

test('handler enabled but programs still fail: names arch-test\'s answer and the interpreter', async (t) => {
  const { problems } = await problemsOf(t, { handler: ENABLED_F, archTest: 'fails' });
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /enabled but arm64 programs still do not run \(arch-test arm64: "arm64: not supported on this machine\/kernel"\).*aarch64-binfmt-P/);
});

test('the thrown error is ERR_COMMAND_FAILED: what is needed, each problem on its own line, and the alternatives', async (t) => {
  const env = await fakeMachine(t, { mounted: false, archTest: 'fails' });
  const err = await t.throwsAsync(requireForeignArchSupport('arm64', env), { instanceOf: BootfleetError });
  t.is(err?.code, 'ERR_COMMAND_FAILED');
  const lines = (err?.message ?? '').split('\n');
  t.regex(lines[0] ?? '', /^cannot build a debian root for arm64 on this amd64 machine: .*binfmt_misc handler qemu-aarch64\), and here they do not \(arch-test arm64: "arm64: not supported/);
  t.regex(lines[1] ?? '', /^ {2}- binfmt_misc is not mounted/);
  t.regex(lines.at(-1) ?? '', /scripts\/setup-debian\.sh .* build on an arm64 machine \(a Raspberry Pi builds its own images natively\).*tiny-web/);
  t.is(foreignArchMessage(await foreignArchFacts('arm64', env), ['x']).split('\n')[1], '  - x');
});
