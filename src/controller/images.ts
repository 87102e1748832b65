import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { BootImage } from '../images/boot-image.js';
import type { DebArch } from '../images/apt-config.js';
import { listImages, parseRef, type StoredImage } from '../images/store.js';
import { layersDir } from '../images/layer-store.js';
import { renderOverlay } from '../images/overlay.js';
import { packTar } from '../render/tar.js';
import { errorMessage } from '../errors.js';

const SIMPLE = /^[a-z0-9][a-z0-9._-]*$/;
/** Bursts of file events (a build renames a folder with hundreds of files in it) become one re-scan. */
const REFRESH_DELAY_MS = 250;

/**
 * The image store as the controller serves it: read once at start into memory and read again
 * when the store changes (a recursive watch on the store folder), never per request. Lookups are
 * synchronous so the boot policy can stay pure.
 */
export class ImageCatalog {
  private images: StoredImage[] = [];
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  private constructor(private readonly store: string, private readonly log: Logger) {}

  static async open(store: string, log: Logger): Promise<ImageCatalog> {
    const catalog = new ImageCatalog(store, log);
    await mkdir(store, { recursive: true });
    await catalog.refresh();
    catalog.watcher = watch(store, { recursive: true }, () => catalog.scheduleRefresh());
    catalog.watcher.on('error', (err) => log.warn({ err: errorMessage(err) }, 'image store watch failed; new builds show after a restart'));
    return catalog;
  }

  /** Re-reads every manifest now (also what a watch event triggers, debounced). */
  async refresh(): Promise<void> {
    this.scanning ??= listImages(this.store)
      .then((images) => {
        this.images = images;
        this.log.debug({ images: images.length }, 'image catalogue refreshed');
      })
      .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'image catalogue refresh failed'))
      .finally(() => {
        this.scanning = undefined;
      });
    return this.scanning;
  }

  /**
   * The build `ref` names for `arch`: `name@version` exactly (any arch), or the newest build of
   * `name` for `arch`.
   */
  find(ref: string, arch: DebArch): BootImage | undefined {
    let parsed: { name: string; version?: string };
    try {
      parsed = parseRef(ref);
    } catch {
      return undefined;
    }
    const { name, version } = parsed;
    const match = this.images.find((i) => i.manifest.name === name && (version === undefined
      ? i.manifest.arch === arch
      : i.id === version || i.manifest.version === version));
    if (!match) return undefined;
    const { files, layers } = match.manifest;
    return { name, version: match.id, arch: match.manifest.arch, dir: match.dir, files, ...(layers ? { layers } : {}) };
  }

  /** Every build, newest first per name (for image lists and rollouts). */
  all(): readonly StoredImage[] {
    return this.images;
  }

  /** `<store>/.layers`: every stored layer, by sha256 (src/images/layer-store.ts). */
  layersDir(): string {
    return layersDir(this.store);
  }

  /** The folder of one boot set, for URL parts that are plain names (never a path). */
  imageDir(name: string, version: string): string | undefined {
    return SIMPLE.test(name) && SIMPLE.test(version) ? join(this.store, name, version) : undefined;
  }

  close(): void {
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
  }

  private scheduleRefresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), REFRESH_DELAY_MS);
    this.timer.unref();
  }
}

/**
 * Renders the per-node overlay (overlays/<images.nodeOverlay>/, strict Handlebars) for one node
 * and packs it as the tar its initramfs extracts.
 */
export async function renderNodeOverlay(dir: string, ctx: { mac: string; hostname: string; controllerUrl: string; image: BootImage | undefined }): Promise<Buffer> {
  const files = await renderOverlay(dir, {
    node: { mac: ctx.mac, hostname: ctx.hostname },
    image: { name: ctx.image?.name ?? '', version: ctx.image?.version ?? '' },
    controller: { url: ctx.controllerUrl },
  });
  return packTar(files);
}
