import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImage } from '../../src/images/build.js';
import { packageRoot } from '../../src/pkg.js';

/** The release a node runs, as the file `/srv/www/release.txt` its port-80 httpd serves says. */
export type Release = 'v1' | 'v2' | 'v3';

/**
 * Three builds of tiny-web for rollouts (amd64), each `tiny-web@<version>`: the recipe and its
 * overlay copied into `dir`, plus one overlay per release that writes `/srv/www/release.txt`
 * (served by the image's own httpd on port 80, so a test can ask a node which release it runs).
 * v3 is a bad release: its `/etc/httpd.conf` (busybox httpd reads it for every server it starts,
 * the agent's site servers too) ends with `D:*`, which denies every client, so each site answers
 * 403 and fails its health check while the node boots, heartbeats and reports v3 normally.
 */
export async function buildReleases(dir: string, store: string): Promise<Record<Release, string>> {
  const root = packageRoot();
  await cp(join(root, 'overlays', 'tiny-web'), join(dir, 'overlays', 'tiny-web'), { recursive: true });
  const recipe = await readFile(join(root, 'images', 'tiny-web.yaml'), 'utf8');
  const httpdConf = await readFile(join(root, 'overlays', 'tiny-web', 'etc', 'httpd.conf'), 'utf8');
  const refs: Partial<Record<Release, string>> = {};
  for (const release of ['v1', 'v2', 'v3'] as const) {
    const overlay = join(dir, 'overlays', `release-${release}`);
    await mkdir(join(overlay, 'srv', 'www'), { recursive: true });
    await writeFile(join(overlay, 'srv', 'www', 'release.txt'), `${release}\n`);
    if (release === 'v3') {
      await mkdir(join(overlay, 'etc'), { recursive: true });
      await writeFile(join(overlay, 'etc', 'httpd.conf'), `${httpdConf}# a bad release: every client denied (403)\nD:*\n`);
    }
    // A recipe's file name is its image name, so each release's recipe sits in its own folder.
    const file = join(dir, release, 'tiny-web.yaml');
    await mkdir(join(dir, release), { recursive: true });
    const text = recipe.replace(/^overlays: \[tiny-web\]$/m, `overlays: [tiny-web, release-${release}]`);
    if (text === recipe) throw new Error('images/tiny-web.yaml has no "overlays: [tiny-web]" line to extend');
    await writeFile(file, text);
    const result = await buildImage({ recipe: file, arch: 'amd64', store, overlaysDir: join(dir, 'overlays'), progress: () => undefined });
    const build = result.builds[0];
    if (!build) throw new Error(`building ${release} produced nothing`);
    refs[release] = `tiny-web@${build.id}`;
  }
  return refs as Record<Release, string>;
}
