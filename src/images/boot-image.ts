/** A built boot set a node can run, as the controller serves it (from the image store's manifest). */
export interface BootImage {
  name: string;
  /** The store id, `<version>-<arch>`: the URL segment under /images/<name>/. */
  version: string;
  arch: string;
  /** Absolute folder holding vmlinuz, initrd.img, rpi/ … (and root.squashfs in a boot set from before layers) */
  dir: string;
  files: Record<string, { sha256: string; size: number }>;
  /** The root's squashfs layers, bottom first, in the store's `.layers/`; absent before layers. */
  layers?: ReadonlyArray<{ role: string; sha256: string; size: number }>;
}
