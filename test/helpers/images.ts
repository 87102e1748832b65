import { join } from 'node:path';
import { imageBuildCommand } from '../../src/commands/image.js';
import type { ArchBuild } from '../../src/images/build.js';
import { packageRoot } from '../../src/pkg.js';

/** Builds images/<recipe>.yaml for one arch into `store` (quietly) and returns that build. */
export async function buildRecipe(recipe: 'tiny-web' | 'debian-web', arch: 'amd64' | 'arm64', store: string): Promise<ArchBuild> {
  const result = await imageBuildCommand({ recipe: join(packageRoot(), 'images', `${recipe}.yaml`), arch, store }, () => undefined);
  const build = result.builds[0];
  if (!build) throw new Error(`image build of ${recipe} for ${arch} produced nothing`);
  return build;
}
