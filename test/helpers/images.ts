import { execa } from 'execa';
import { join } from 'node:path';
import { imageBuildCommand } from '../../src/commands/image.js';
import type { ArchBuild } from '../../src/images/build.js';
import { listSquashfs } from '../../src/images/squashfs.js';
import { layerPath, type Manifest } from '../../src/images/store.js';
import { packageRoot } from '../../src/pkg.js';

/** Builds images/<recipe>.yaml for one arch into `store` (quietly) and returns that build. */
export async function buildRecipe(recipe: 'tiny-web' | 'debian-web', arch: 'amd64' | 'arm64', store: string): Promise<ArchBuild> {
  const result = await imageBuildCommand({ recipe: join(packageRoot(), 'images', `${recipe}.yaml`), arch, store }, () => undefined);
  const build = result.builds[0];
  if (!build) throw new Error(`image build of ${recipe} for ${arch} produced nothing`);
  return build;
}

/** The stored layer files of a build, bottom (base) first. */
export function layerFilesOf(store: string, m: Manifest): string[] {
  if (!m.layers) throw new Error(`${m.name}@${m.version} has no layers`);
  return m.layers.map((l) => layerPath(store, l));
}

/** Every path of the root a node of this build sees: the union of its layers' listings. */
export async function rootPaths(store: string, m: Manifest): Promise<Set<string>> {
  const all = new Set<string>();
  for (const file of layerFilesOf(store, m)) for (const p of await listSquashfs(file)) all.add(p);
  return all;
}

/** A file of the root as a node sees it: from the topmost layer that has it. */
export async function readFromRoot(store: string, m: Manifest, path: string): Promise<Buffer> {
  for (const file of layerFilesOf(store, m).reverse()) {
    if ((await listSquashfs(file)).includes(path)) {
      return Buffer.from((await execa('unsquashfs', ['-cat', file, path], { encoding: 'buffer', stripFinalNewline: false })).stdout);
    }
  }
  throw new Error(`no layer of ${m.name}@${m.version} has ${path}`);
}
