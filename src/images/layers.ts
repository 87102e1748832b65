import { join } from 'node:path';
import { packageRoot } from '../pkg.js';
import { applyOverlay, renderOverlay, type ApplyOptions, type OverlayFile } from './overlay.js';
import type { Recipe } from './recipe.js';

/**
 * The image-time layers of a recipe, in the order the builder applies them over the base root:
 * first the recipe's own overlays (`overlays/<name>/`, a later one winning), then the built-in
 * layer, which every bootfleet image gets whatever its recipe says: `images/builtin/common/`
 * and `images/builtin/<base>/` from the package (docs/images.md "Built-in layer"). Applied last,
 * the built-in layer wins over a recipe overlay that brings the same path, so no recipe loses
 * what a node needs to stay on the network (lease keeping, address reports).
 */
export function imageLayers(recipe: Pick<Recipe, 'base' | 'overlays'>, overlaysDir: string, builtinRoot = builtinLayerRoot()): { overlays: string[]; builtin: string[] } {
  return {
    overlays: recipe.overlays.map((name) => join(overlaysDir, name)),
    builtin: [join(builtinRoot, 'common'), join(builtinRoot, recipe.base)],
  };
}

/** `<package>/images/builtin`. */
export function builtinLayerRoot(): string {
  return join(packageRoot(), 'images', 'builtin');
}

/**
 * Renders each layer folder against `context` and applies it to `root`, in order (with
 * `opts.lower`, `root` is the image layer over that base root); returns the bytes written.
 */
export async function applyLayers(root: string, dirs: readonly string[], context: Record<string, unknown>, opts: ApplyOptions = {}): Promise<number> {
  let bytes = 0;
  for (const dir of dirs) {
    const files = await renderOverlay(dir, context);
    await applyOverlay(root, files.map(normalizeMode), opts);
    bytes += files.reduce((n, f) => n + (f.data?.length ?? 0), 0);
  }
  return bytes;
}

/**
 * Git keeps only "executable or not"; the rest of a checkout's modes comes from the umask of
 * whoever cloned. Image bytes must not depend on that, so image-time layers get 0755 or 0644.
 */
function normalizeMode(f: OverlayFile): OverlayFile {
  if (f.type === 'symlink') return f;
  return { ...f, mode: f.type === 'dir' || (f.mode & 0o111) !== 0 ? 0o755 : 0o644 };
}
