import { execa } from 'execa';
import { access, constants, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError, errorMessage } from '../../errors.js';
import type { DebArch } from '../apt-config.js';

/**
 * Can this machine build a Debian root for a foreign arch (arm64 on an x86 controller)?
 * mmdebstrap runs the root's maintainer scripts, so the kernel must run the root's programs
 * through qemu-user: a binfmt_misc handler (qemu-aarch64) registered by qemu-user-static and
 * enabled with binfmt-support's update-binfmts. mmdebstrap itself checks that with arch-test and,
 * unless the handler has the F flag (the kernel opens the interpreter once, at registration),
 * copies /usr/bin/qemu-<arch>-static into the root. docs/images.md has the whole story.
 *
 * The check is split so each failure can say exactly what to run and where: `foreignArchFacts`
 * reads the machine (paths injectable, no root needed to test it), `foreignArchProblems` is pure.
 */

/** Where the facts come from; tests point these at a temp dir. */
export interface ForeignArchEnv {
  /** This machine's Debian arch (amd64, arm64, …). */
  hostArch: string;
  binfmtDir: string;
  /** The interpreter qemu-user-static installs for `arch` (mmdebstrap copies it without F). */
  qemuStatic: (arch: DebArch) => string;
  /** binfmt-support's tool. */
  updateBinfmts: string;
  /** The arch-test program; `arch-test <arch>` prints "<arch>: ok" when its programs run. */
  archTest: string;
  /** For Uid and CapEff (/proc/self/status). */
  procStatus: string;
  /** Files that exist only inside containers (docker, podman). */
  containerMarkers: readonly string[];
}

export const SYSTEM_ENV: ForeignArchEnv = {
  hostArch: debianArch(process.arch),
  binfmtDir: '/proc/sys/fs/binfmt_misc',
  qemuStatic: (arch) => `/usr/bin/qemu-${QEMU_NAME[arch]}-static`,
  updateBinfmts: '/usr/sbin/update-binfmts',
  archTest: 'arch-test',
  procStatus: '/proc/self/status',
  containerMarkers: ['/.dockerenv', '/run/.containerenv'],
};

const QEMU_NAME: Record<DebArch, string> = { amd64: 'x86_64', arm64: 'aarch64' };

export interface ForeignArchFacts {
  host: string;
  arch: DebArch;
  /** "qemu-aarch64": the binfmt handler name and qemu-user's program name. */
  handler: string;
  binfmtDir: string;
  /** binfmt_misc is mounted at binfmtDir (its `status` file exists). */
  mounted: boolean;
  handlerState: 'missing' | 'enabled' | 'disabled';
  /** The handler has the F flag: no interpreter needed inside the root or a container. */
  fixBinary: boolean;
  interpreter?: string;
  /** Why this process can neither mount binfmt_misc nor register/enable a handler, if it cannot. */
  blocked?: string;
  /** A container marker that exists (only changes the wording). */
  container?: string;
  qemuStatic: string;
  qemuStaticInstalled: boolean;
  updateBinfmtsInstalled: boolean;
  /** `ok`, `missing` (arch-test not installed), or what arch-test said instead of ok. */
  archTest: string;
}

/** Reads everything the diagnosis needs. Only reads, and runs arch-test (which runs a tiny foreign program). */
export async function foreignArchFacts(arch: DebArch, env: ForeignArchEnv = SYSTEM_ENV): Promise<ForeignArchFacts> {
  const handler = `qemu-${QEMU_NAME[arch]}`;
  const mounted = await exists(join(env.binfmtDir, 'status'));
  const entry = await readFile(join(env.binfmtDir, handler), 'utf8').catch(() => undefined);
  const lines = entry?.split('\n') ?? [];
  const interpreter = lines.find((l) => l.startsWith('interpreter '))?.slice('interpreter '.length);
  const container = (await Promise.all(env.containerMarkers.map(async (m) => ((await exists(m)) ? m : undefined)))).find((m) => m !== undefined);
  const blocked = await whyBlocked(env, mounted);
  return {
    host: env.hostArch,
    arch,
    handler,
    binfmtDir: env.binfmtDir,
    mounted,
    handlerState: entry === undefined ? 'missing' : lines[0] === 'enabled' ? 'enabled' : 'disabled',
    fixBinary: lines.some((l) => /^flags: [A-Z]*F/.test(l)),
    ...(interpreter ? { interpreter } : {}),
    ...(blocked ? { blocked } : {}),
    ...(container ? { container } : {}),
    qemuStatic: env.qemuStatic(arch),
    qemuStaticInstalled: await exists(env.qemuStatic(arch)),
    updateBinfmtsInstalled: await exists(env.updateBinfmts),
    archTest: await runArchTest(env.archTest, arch),
  };
}

/**
 * Mounting binfmt_misc needs root with CAP_SYS_ADMIN (an unprivileged container has neither);
 * registering or enabling a handler needs its files writable (a container's /proc/sys is
 * usually read-only). binfmt_misc belongs to the kernel, not to a container, so where this
 * process cannot, the host must.
 */
async function whyBlocked(env: ForeignArchEnv, mounted: boolean): Promise<string | undefined> {
  const status = await readFile(env.procStatus, 'utf8').catch(() => '');
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1];
  if (uid !== undefined && uid !== '0') return 'not running as root';
  const capEff = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
  const CAP_SYS_ADMIN = 21n; // include/uapi/linux/capability.h
  if (!mounted && capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_SYS_ADMIN) & 1n) === 0n) return 'this process lacks CAP_SYS_ADMIN, as in an unprivileged container';
  if (!mounted) return undefined;
  try {
    await access(join(env.binfmtDir, 'register'), constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    return `${join(env.binfmtDir, 'register')} is not writable (${code === 'EROFS' ? 'EROFS: mounted read-only, as in a container' : code})`;
  }
}

async function runArchTest(program: string, arch: DebArch): Promise<string> {
  const r = await execa(program, [arch], { reject: false, timeout: 60_000 });
  if ((r as { code?: string }).code === 'ENOENT') return 'missing';
  const out = `${String(r.stdout)} ${String(r.stderr)}`.trim();
  return r.exitCode === 0 && out === `${arch}: ok` ? 'ok' : out || `exit ${r.exitCode ?? '?'}`;
}

/** What stands between this machine and a foreign-arch debian root, each with what to run and where; [] if nothing. */
export function foreignArchProblems(f: ForeignArchFacts): string[] {
  const hostHandlerUsable = f.handlerState === 'enabled' && f.fixBinary;
  if (f.archTest === 'ok' && (f.qemuStaticInstalled || hostHandlerUsable)) return [];
  const problems: string[] = [];
  const install: string[] = [];
  if (!f.qemuStaticInstalled && !hostHandlerUsable) install.push('qemu-user-static');
  if (!f.updateBinfmtsInstalled && f.archTest !== 'ok' && !f.blocked) install.push('binfmt-support');
  if (f.archTest === 'missing') install.push('arch-test');
  if (install.length > 0) {
    problems.push(`not installed: ${install.join(', ')} (qemu-user-static: ${f.qemuStatic}, the emulator; binfmt-support: update-binfmts, which ` +
      `enables its handler; arch-test: mmdebstrap runs it to check ${f.arch} programs run). Run here, as root: apt-get install ${install.join(' ')}`);
  }
  if (f.archTest !== 'ok') problems.push(...binfmtProblem(f));
  return problems;
}

function binfmtProblem(f: ForeignArchFacts): string[] {
  const file = join(f.binfmtDir, f.handler);
  const enable = `update-binfmts --enable ${f.handler}`;
  const setUp = `apt-get install qemu-user-static binfmt-support && ${enable}`;
  const onHost = (command: string): string => `binfmt handlers belong to the host's kernel (binfmt_misc is not namespaced` +
    `${f.container ? `; this looks like a container: ${f.container} exists` : ''}), so on the host, as root, run: ${command}; check that ${file} ` +
    'on the host starts with "enabled" (Debian registers it with the F flag, which lets containers use it), then build here again';
  if (!f.mounted) {
    const mount = `mount -t binfmt_misc binfmt_misc ${f.binfmtDir}`;
    if (f.blocked) return [`binfmt_misc is not mounted at ${f.binfmtDir} and cannot be mounted here (${f.blocked}). ${cap(onHost(setUp))}`];
    return [`binfmt_misc is not mounted at ${f.binfmtDir}. Run here, as root: ${mount} && ${enable}` +
      (f.container ? `. If the mount is refused: ${onHost(setUp)}` : '')];
  }
  if (f.handlerState === 'missing') {
    if (f.blocked) return [`the handler ${f.handler} is not registered (${file} is missing) and cannot be registered here (${f.blocked}). ${cap(onHost(setUp))}`];
    const after = f.qemuStaticInstalled && f.updateBinfmtsInstalled ? '' : ', once qemu-user-static and binfmt-support are installed';
    // update-binfmts --disable removes the handler from the kernel, so "disabled" in
    // `update-binfmts --display` shows up here as not registered.
    return [`the handler ${f.handler} is not registered in the kernel (${file} is missing). Run here, as root${after}: ${enable}`];
  }
  if (f.handlerState === 'disabled') {
    // Disabled in the kernel (someone wrote 0 to it): update-binfmts then says "already enabled"
    // and changes nothing, so the fix is writing 1 (Documentation/admin-guide/binfmt-misc.rst).
    const turnOn = `echo 1 > ${file}`;
    if (f.blocked) return [`the handler ${f.handler} is registered but disabled and cannot be enabled here (${f.blocked}). ${cap(onHost(turnOn))}`];
    return [`the handler ${f.handler} is registered but disabled (${file} says so). Run here, as root: ${turnOn}`];
  }
  if (f.archTest === 'missing') return []; // enabled; whether it works is for arch-test to say once installed
  return [`the handler ${f.handler} is enabled but ${f.arch} programs still do not run (arch-test ${f.arch}: "${f.archTest}"): ` +
    `check that its interpreter ${f.interpreter ?? '(none listed)'} exists${f.fixBinary ? '' : ' (without the F flag it is looked up at each start)'}, ` +
    `or reinstall it, as root: apt-get install --reinstall qemu-user-static`];
}

/**
 * Fails before mmdebstrap starts when `arch` is foreign and its programs cannot run here, listing
 * each missing piece with the command that fixes it and where to run it (here or on the host).
 */
export async function requireForeignArchSupport(arch: DebArch, env: ForeignArchEnv = SYSTEM_ENV): Promise<void> {
  if (env.hostArch === arch) return;
  const facts = await foreignArchFacts(arch, env);
  const problems = foreignArchProblems(facts);
  if (problems.length === 0) return;
  throw new BootfleetError('ERR_COMMAND_FAILED', foreignArchMessage(facts, problems));
}

export function foreignArchMessage(f: ForeignArchFacts, problems: readonly string[]): string {
  const now = f.archTest === 'missing' ? 'arch-test, which checks that, is not installed' : f.archTest === 'ok' ? 'they do, but mmdebstrap also needs the emulator here' : `here they do not (arch-test ${f.arch}: "${f.archTest}")`;
  return `cannot build a debian root for ${f.arch} on this ${f.host} machine: mmdebstrap runs the root's package scripts, so the kernel ` +
    `must run ${f.arch} programs through qemu-user (binfmt_misc handler ${f.handler}), and ${now}.\n` +
    problems.map((p) => `  - ${p}\n`).join('') +
    `scripts/setup-debian.sh does all of this on a Debian host. Or build on an ${f.arch} machine (a Raspberry Pi builds its own ` +
    `images natively); the busybox base (tiny-web) needs none of this. See docs/images.md, "Pi (arm64) images".`;
}

function debianArch(nodeArch: string): string {
  return ({ x64: 'amd64', arm64: 'arm64', ia32: 'i386', arm: 'armhf' } as Record<string, string>)[nodeArch] ?? nodeArch;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
