import { execa } from 'execa';
import { access, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BootfleetError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { defaultCacheDir, fetchDebs, type DebArch } from './apt-cache.js';

/** Unpacks the files of a .deb into `dir` (created if missing) with `dpkg-deb -x`; no scripts run. */
export async function extractDeb(debPath: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  try {
    await execa('dpkg-deb', ['-x', debPath, dir]);
  } catch (err) {
    throw new BootfleetError('ERR_COMMAND_FAILED', `dpkg-deb -x ${debPath} failed: ${(err as { stderr?: string }).stderr ?? errorMessage(err)}`, { cause: err });
  }
}

/**
 * Extracts `debPath` once into `<cacheDir>/root/<deb name>` and returns that directory. The
 * tree appears atomically (extract to a temp dir, then rename), so a crash or a concurrent
 * extraction never leaves a half-filled tree that later calls would trust.
 */
export async function extractDebCached(debPath: string, cacheDir = defaultCacheDir()): Promise<string> {
  const dir = join(cacheDir, 'root', basename(debPath, '.deb'));
  if (await exists(dir)) return dir;
  await mkdir(join(cacheDir, 'root'), { recursive: true });
  const tmp = await mkdtemp(join(cacheDir, 'root', '.extract-'));
  try {
    await extractDeb(debPath, tmp);
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process finished first: its tree is as good as ours.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** A Debian kernel unpacked in the cache. */
export interface DebianKernel {
  /** e.g. "6.1.0-56-amd64" (the `uname -r` and the /lib/modules directory name). */
  version: string;
  /** The exact package, e.g. "linux-image-6.1.0-56-amd64=6.1.141-1": a rebuild of one ABI keeps `version`. */
  package?: string;
  vmlinuz: string;
  /** lib/modules/<version> as shipped: no modules.dep (dpkg's postinst runs depmod; run `depmod -b` when building). */
  modulesDir: string;
  /** Device trees (arm64 only): `<dtbDir>/broadcom/bcm2837-rpi-3-b.dtb` and friends. */
  dtbDir?: string;
}

const kernels = new Map<string, Promise<DebianKernel>>();

/**
 * Fetches and unpacks `linux-image-<arch>` (resolved to the real image package) once per cache
 * directory and process; later calls return the same promise. Debian's arm64 vmlinuz is a plain
 * (uncompressed) Image, which QEMU's -kernel and the Pi firmware both accept.
 */
export function debianKernel(arch: DebArch, opts: { cacheDir?: string; log?: Logger } = {}): Promise<DebianKernel> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const key = `${cacheDir}\0${arch}`;
  let p = kernels.get(key);
  if (!p) {
    p = loadKernel(arch, cacheDir, opts.log);
    kernels.set(key, p);
    p.catch(() => kernels.delete(key)); // a failure (say, offline) may be retried later
  }
  return p;
}

async function loadKernel(arch: DebArch, cacheDir: string, log?: Logger): Promise<DebianKernel> {
  const debs = await fetchDebs({ arch, packages: [`linux-image-${arch}`], cacheDir, ...(log ? { log } : {}) });
  const image = debs.find((d) => /^linux-image-\d/.test(d.name));
  if (!image) throw new BootfleetError('ERR_COMMAND_FAILED', `linux-image-${arch} did not resolve to a kernel image package (got ${debs.map((d) => d.name).join(', ')})`);
  const version = image.name.replace(/^linux-image-/, '').replace(/-unsigned$/, '');
  const root = await extractDebCached(image.path, cacheDir);
  const kernel: DebianKernel = {
    version,
    package: `${image.name}=${image.version}`,
    vmlinuz: join(root, 'boot', `vmlinuz-${version}`),
    modulesDir: join(root, 'lib', 'modules', version),
  };
  const dtbDir = join(root, 'usr', 'lib', `linux-image-${version}`);
  if (await exists(dtbDir)) kernel.dtbDir = dtbDir;
  for (const path of [kernel.vmlinuz, kernel.modulesDir]) {
    if (!(await exists(path))) throw new BootfleetError('ERR_COMMAND_FAILED', `${image.name}: expected ${path} in the package, not found (contents: ${(await readdir(root)).join(', ')})`);
  }
  return kernel;
}

/**
 * A static busybox binary for `arch`: the host's `/bin/busybox` when it is busybox-static of the
 * same architecture (amd64 here, no network needed), else Debian's busybox-static from the cache.
 */
export async function debianBusybox(arch: DebArch, opts: { cacheDir?: string; log?: Logger } = {}): Promise<string> {
  const hostArch = process.arch === 'x64' ? 'amd64' : process.arch;
  if (hostArch === arch && (await exists('/bin/busybox')) && (await isStatic('/bin/busybox'))) return '/bin/busybox';
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const [deb] = await fetchDebs({ arch, packages: ['busybox-static'], cacheDir, ...(opts.log ? { log: opts.log } : {}) });
  if (!deb) throw new BootfleetError('ERR_COMMAND_FAILED', `busybox-static for ${arch} did not resolve`);
  return join(await extractDebCached(deb.path, cacheDir), 'bin', 'busybox');
}

async function isStatic(path: string): Promise<boolean> {
  const r = await execa('file', ['-b', path], { reject: false });
  // Without `file`, trust the host busybox only if ldd calls it "not a dynamic executable".
  if (r.exitCode === 0) return /statically linked|static-pie/.test(String(r.stdout));
  const ldd = await execa('ldd', [path], { reject: false });
  return /not a dynamic executable/.test(`${String(ldd.stdout)}${String(ldd.stderr)}`);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
