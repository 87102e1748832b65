/** A built boot set a node can run (from the image store's manifest, src/images/store.ts). */
export interface BootImage {
  name: string;
  version: string;
  /** Absolute folder holding vmlinuz, initrd.img, root.squashfs, rpi/ … */
  dir: string;
  files: Record<string, { sha256: string; size: number }>;
}
