/**
 * A one-partition MBR (sector 0 of the card). The Pi boot ROM and the bootloaders read the first
 * FAT partition of an MBR disk (docs/raspberry-pi.md §1, §4). Pure.
 */
export const SECTOR = 512;
/** The partition starts at 1 MiB, the usual SD-card alignment. */
export const PARTITION_START_LBA = 2048;
/** FAT32 with LBA addressing. */
export const FAT32_LBA = 0x0c;
/** Fixed disk identifier, so the same card content gives the same image bytes. */
export const DISK_ID = 0xb007f1ee;

export function mbrSector(opts: { startLba: number; sectors: number; type?: number; diskId?: number }): Uint8Array {
  const mbr = new Uint8Array(SECTOR);
  const view = new DataView(mbr.buffer);
  view.setUint32(440, opts.diskId ?? DISK_ID, true);
  const p = 446;
  mbr[p] = 0x00; // not "active": the Pi firmware does not look at it
  mbr.set([0xfe, 0xff, 0xff], p + 1); // CHS start: "use LBA"
  mbr[p + 4] = opts.type ?? FAT32_LBA;
  mbr.set([0xfe, 0xff, 0xff], p + 5); // CHS end: "use LBA"
  view.setUint32(p + 8, opts.startLba, true);
  view.setUint32(p + 12, opts.sectors, true);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/**
 * Card size in bytes for `payload` bytes of files: at least 64 MiB (so FAT32 has its 65525
 * clusters with 512-byte clusters), else payload plus 10 % and 8 MiB for FATs and slack,
 * rounded up to whole MiB, plus the 1 MiB before the partition.
 */
export function cardBytes(payload: number): number {
  const mib = 1024 * 1024;
  const fs = Math.max(63 * mib, Math.ceil((payload * 1.1 + 8 * mib) / mib) * mib);
  return PARTITION_START_LBA * SECTOR + fs;
}
