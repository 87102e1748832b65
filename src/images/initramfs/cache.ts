import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../pkg.js';
import { sha256File } from '../hash.js';
import { NODE_MODULES } from '../modules.js';
import { sourceDateEpoch } from '../squashfs.js';
import { buildNodeInitramfs, type NodeInitramfsOptions } from './build.js';

/** Bump when build.ts lays the archive out differently: older cached archives are then not reused. */
export const INITRAMFS_FORMAT = 1;

/** The scripts build.ts packs from the assets folder. */
const ASSETS = ['init', 'lib.sh', 'udhcpc.script'];

/**
 * The node initramfs for these inputs from `<dir>/<key>.cpio.gz`, built and kept there on a miss.
 * It depends only on its inputs, never on the recipe, so every image version and every recipe
 * with the same kernel shares one: the key is the sha256 of the archive format, the arch, the
 * kernel (`uname -r` and the exact package), the module list, the busybox binary's and each
 * script's sha256, and the mtime stamped on every entry. The archive appears by rename.
 */
export async function cachedNodeInitramfs(dir: string, opts: NodeInitramfsOptions): Promise<{ file: string; hit: boolean; key: string }> {
  const key = await initramfsKey(opts);
  const file = join(dir, `${key}.cpio.gz`);
  if (await access(file).then(() => true, () => false)) return { file, hit: true, key };
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, await buildNodeInitramfs(opts));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  return { file, hit: false, key };
}

export async function initramfsKey(opts: NodeInitramfsOptions): Promise<string> {
  const assets = opts.assetsDir ?? join(packageRoot(), 'images', 'initramfs');
  const scripts: Record<string, string> = {};
  for (const name of ASSETS) scripts[name] = createHash('sha256').update(await readFile(join(assets, name))).digest('hex');
  const inputs = {
    format: INITRAMFS_FORMAT,
    arch: opts.arch,
    kernel: opts.kernel.version,
    kernelPackage: opts.kernel.package ?? opts.kernel.modulesDir,
    modules: opts.modules ?? NODE_MODULES[opts.arch],
    busybox: await sha256File(opts.busybox),
    scripts,
    mtime: opts.mtime ?? sourceDateEpoch(),
  };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 24);
}
