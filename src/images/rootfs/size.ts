import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Sum of the sizes of the regular files under `dir` (apparent size, for progress lines). */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const abs = join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(abs);
    else if (e.isFile()) total += (await lstat(abs)).size;
  }
  return total;
}
