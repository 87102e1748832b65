/**
 * Image build times: `npm run bench -- image`. In a temp dir:
 *
 * tiny-web (amd64), three ways:
 *   cold          — empty package cache, base cache and initramfs cache, as on a fresh machine
 *                   (downloads the Debian kernel and busybox .debs);
 *   packages-warm — packages cached, base root (and its layer) rebuilt (what a recipe change costs);
 *   warm          — after an overlay-only change (the everyday rebuild).
 * debian-web (amd64), with the machine's package cache (its .debs and mmdebstrap's are kept there):
 *   base rebuild  — packages cached, the base root built: mmdebstrap and its squashfs;
 *   warm          — after an edit to one template of its overlay.
 *
 * Prints times, stage times and sizes and, last, `image_debian_warm_over_base_rebuild: X`
 * (bar: ≤ 0.1); `image_tiny_warm_s` should stay under 0.5 s.
 */
import { appendFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ArchBuild, type BuildOptions } from '../src/images/build.js';
import type { StageReport } from '../src/images/progress.js';
import { packageRoot } from '../src/pkg.js';

interface Run {
  s: number;
  build: ArchBuild;
  stages: StageReport[];
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-image-bench-'));
  try {
    for (const recipe of ['tiny-web', 'debian-web']) {
      await cp(join(packageRoot(), 'images', `${recipe}.yaml`), join(dir, 'images', `${recipe}.yaml`));
      await cp(join(packageRoot(), 'overlays', recipe), join(dir, 'overlays', recipe), { recursive: true });
    }
    const tiny = await tinyRuns(dir);
    const debian = await debianRuns(dir);

    console.log('\ntiny-web amd64 build');
    console.log('run             seconds  base cache');
    console.log(`cold            ${secs(tiny.cold)}  ${hit(tiny.cold)} (empty package cache)`);
    console.log(`packages-warm   ${secs(tiny.packagesWarm)}  ${hit(tiny.packagesWarm)}`);
    console.log(`warm (overlay)  ${secs(tiny.warm)}  ${hit(tiny.warm)}`);
    console.log(`  stages: ${stageLine(tiny.warm)}`);
    console.log(`sizes: ${sizes(tiny.warm.build)}`);

    console.log('\ndebian-web amd64 build (package cache warm)');
    console.log('run             seconds  base cache');
    console.log(`base rebuild    ${secs(debian.baseRebuild)}  ${hit(debian.baseRebuild)}`);
    console.log(`  stages: ${stageLine(debian.baseRebuild)}`);
    console.log(`warm (overlay)  ${secs(debian.warm)}  ${hit(debian.warm)}`);
    console.log(`  stages: ${stageLine(debian.warm)}`);
    console.log(`sizes: ${sizes(debian.warm.build)}`);

    console.log(`image_tiny_warm_s: ${tiny.warm.s.toFixed(2)}`);
    console.log(`image_warm_over_cold: ${(tiny.warm.s / tiny.cold.s).toFixed(2)}`);
    console.log(`image_debian_warm_s: ${debian.warm.s.toFixed(2)}`);
    console.log(`image_debian_warm_over_base_rebuild: ${(debian.warm.s / debian.baseRebuild.s).toFixed(3)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tinyRuns(dir: string): Promise<{ cold: Run; packagesWarm: Run; warm: Run }> {
  const common: BuildOptions = {
    recipe: join(dir, 'images', 'tiny-web.yaml'), arch: 'amd64', store: join(dir, 'store'),
    cacheDir: join(dir, 'cache'),
  };
  const cold = await timed(common);
  const packagesWarm = await timed({ ...common, freshBase: true });
  await writeFile(join(dir, 'overlays', 'tiny-web', 'etc', 'bench-stamp'), `${Date.now()}\n`);
  const warm = await timed(common);
  return { cold, packagesWarm, warm };
}

async function debianRuns(dir: string): Promise<{ baseRebuild: Run; warm: Run }> {
  // Packages (and the initramfs) from the machine's caches; a base cache of our own, empty.
  const common: BuildOptions = { recipe: join(dir, 'images', 'debian-web.yaml'), arch: 'amd64', store: join(dir, 'store'), basesDir: join(dir, 'debian-bases') };
  // Make sure the packages are cached (on a fresh machine this downloads them and fills the
  // default base cache too); cheap when they are.
  await buildImage({ ...common, store: join(dir, 'warm-up-store'), basesDir: undefined });
  await rm(join(dir, 'warm-up-store'), { recursive: true, force: true });
  const baseRebuild = await timed(common);
  // An operator edits one template of the overlay.
  await appendFile(join(dir, 'overlays', 'debian-web', 'etc', 'motd.hbs'), `edited for the bench ${Date.now()}\n`);
  const warm = await timed(common);
  return { baseRebuild, warm };
}

async function timed(opts: BuildOptions): Promise<Run> {
  const stages: StageReport[] = [];
  const started = performance.now();
  const result = await buildImage({ ...opts, progress: (r) => stages.push(r) });
  const build = result.builds[0];
  if (!build) throw new Error('no build');
  return { s: (performance.now() - started) / 1000, build, stages };
}

function secs(r: Run): string {
  return r.s.toFixed(2).padStart(7);
}

function hit(r: Run): string {
  return r.build.baseCacheHit ? 'hit' : 'miss';
}

function stageLine(r: Run): string {
  return r.stages.map((s) => `${s.stage} ${s.seconds.toFixed(2)}`).join(', ');
}

function sizes(b: ArchBuild): string {
  const mib = (n: number | undefined): string => `${((n ?? 0) / 1048576).toFixed(2)} MiB`;
  const f = b.manifest.files;
  const root = b.manifest.layers ? b.manifest.layers.map((l) => `${l.role} layer ${mib(l.size)}`).join(', ') : `root.squashfs ${mib(f['root.squashfs']?.size)}`;
  return `vmlinuz ${mib(f['vmlinuz']?.size)}, initrd.img ${mib(f['initrd.img']?.size)}, ${root}`;
}
