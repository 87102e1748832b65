/**
 * Image build times: `npm run bench -- image`. Builds tiny-web (amd64) three ways in a temp dir:
 *   cold          — empty package cache and base cache, as on a fresh machine (downloads the
 *                   Debian kernel and busybox .debs);
 *   packages-warm — packages cached, base root rebuilt (what a recipe change costs);
 *   warm          — after an overlay-only change (the everyday rebuild).
 * Prints times and boot set sizes and, last, `image_warm_over_cold: X` (warm / cold).
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ArchBuild } from '../src/images/build.js';
import { packageRoot } from '../src/pkg.js';

export async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-image-bench-'));
  try {
    await cp(join(packageRoot(), 'images', 'tiny-web.yaml'), join(dir, 'images', 'tiny-web.yaml'));
    await cp(join(packageRoot(), 'overlays', 'tiny-web'), join(dir, 'overlays', 'tiny-web'), { recursive: true });
    const common = { recipe: join(dir, 'images', 'tiny-web.yaml'), arch: 'amd64' as const, store: join(dir, 'store'), cacheDir: join(dir, 'cache') };
    const cold = await timed(() => buildImage(common));
    const packagesWarm = await timed(() => buildImage({ ...common, freshBase: true }));
    await writeFile(join(dir, 'overlays', 'tiny-web', 'etc', 'bench-stamp'), `${Date.now()}\n`);
    const warm = await timed(() => buildImage(common));
    const files = warm.build.manifest.files;
    const mib = (n: number | undefined) => `${((n ?? 0) / 1048576).toFixed(1)} MiB`;
    console.log('\ntiny-web amd64 build');
    console.log('run             seconds  base cache');
    console.log(`cold            ${cold.s.toFixed(2).padStart(7)}  ${cold.build.baseCacheHit ? 'hit' : 'miss'} (empty package cache)`);
    console.log(`packages-warm   ${packagesWarm.s.toFixed(2).padStart(7)}  ${packagesWarm.build.baseCacheHit ? 'hit' : 'miss'}`);
    console.log(`warm (overlay)  ${warm.s.toFixed(2).padStart(7)}  ${warm.build.baseCacheHit ? 'hit' : 'miss'}`);
    console.log(`sizes: vmlinuz ${mib(files['vmlinuz']?.size)}, initrd.img ${mib(files['initrd.img']?.size)}, root.squashfs ${mib(files['root.squashfs']?.size)}`);
    console.log(`image_warm_over_cold: ${(warm.s / cold.s).toFixed(2)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function timed(run: () => Promise<{ builds: ArchBuild[] }>): Promise<{ s: number; build: ArchBuild }> {
  const started = performance.now();
  const result = await run();
  const build = result.builds[0];
  if (!build) throw new Error('no build');
  return { s: (performance.now() - started) / 1000, build };
}
