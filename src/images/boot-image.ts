/** A built boot set a node can run, as the controller serves it (from the image store's manifest). */
export interface BootImage {
  name: string;
  /** The store id, `<version>-<arch>`: the URL segment under /images/<name>/. */
  version: string;
  arch: string;
  /** Absolute folder holding vmlinuz, initrd.img, root.squashfs, rpi/ … */
  dir: string;
  files: Record<string, { sha256: string; size: number }>;
}
