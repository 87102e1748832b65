import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { BootImage } from '../images/boot-image.js';
import type { NodeRegistry } from '../cluster/nodes.js';
import { readManifest, parseRef } from '../images/store.js';
import { renderOverlay } from '../images/overlay.js';
import { packTar } from '../render/tar.js';
import { errorMessage } from '../errors.js';
import { fileSystemHandler } from '../tftp/fs-handler.js';
import type { TftpHandler, TftpClient } from '../tftp/types.js';
import type { TftpFile } from '../tftp/file.js';

const SIMPLE = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Which built boot set a node runs, from the image store: its `nodes[].image` assignment, else
 * `images.default`; without a version, the newest build for the node's architecture (a Pi or an
 * arm64 UEFI machine gets arm64, everything else amd64). Read on every request, so a new build is
 * picked up at the node's next boot without restarting the controller.
 */
export class ImageCatalog {
  constructor(
    private readonly store: string,
    private readonly assignments: ReadonlyMap<string, string>,
    private readonly defaultRef: string | undefined,
    private readonly nodes: NodeRegistry,
    private readonly log: Logger,
  ) {}

  /** `arch` (reported by the node itself) wins over the guess from its boot firmware. */
  async imageFor(mac: string, arch?: 'amd64' | 'arm64'): Promise<BootImage | undefined> {
    const ref = this.assignments.get(mac) ?? this.defaultRef;
    if (!ref) return undefined;
    try {
      const { name, version } = parseRef(ref);
      const wanted = version ? undefined : (arch ?? archOf(this.nodes.get(mac)?.firmware));
      const image = await readManifest(this.store, name, version, wanted);
      return { name, version: image.id, dir: image.dir, files: image.manifest.files };
    } catch (err) {
      this.log.warn({ mac, ref, err: errorMessage(err) }, 'no boot image for node');
      return undefined;
    }
  }

  /** The folder of one boot set, for URL parts that are plain names (never a path). */
  imageDir(name: string, version: string): string | undefined {
    return SIMPLE.test(name) && SIMPLE.test(version) ? join(this.store, name, version) : undefined;
  }
}

function archOf(firmware: string | undefined): 'amd64' | 'arm64' {
  return firmware === 'rpi' || firmware === 'efi-arm64' ? 'arm64' : 'amd64';
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

/**
 * TFTP for Pis: each Pi gets the rpi/ files of the arm64 build of its image (firmware, kernel8.img,
 * dtbs, initramfs8), so what a Pi boots is exactly what `image build` produced; a Pi with no
 * image, or a file the image lacks, falls back to `fallback` (bootDir/rpi).
 */
export function piBootFiles(images: ImageCatalog, nodes: { piNode(prefix: string, ip: string): string | undefined }, fallback: TftpHandler) {
  const handlers = new Map<string, TftpHandler>();
  return async (file: string, pi: { prefix: string; client: TftpClient }): Promise<TftpFile | undefined> => {
    const mac = nodes.piNode(pi.prefix, pi.client.address);
    const image = mac ? await images.imageFor(mac, 'arm64') : undefined;
    if (image) {
      const dir = join(image.dir, 'rpi');
      let handler = handlers.get(dir);
      if (!handler) handlers.set(dir, (handler = fileSystemHandler(dir)));
      const found = await handler(file, pi.client);
      if (found) return found;
    }
    return fallback(file, pi.client);
  };
}
