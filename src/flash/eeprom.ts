import { BootfleetError } from '../errors.js';

/**
 * The Raspberry Pi 4/5 SPI EEPROM bootloader image and its embedded `bootconf.txt`, as
 * `rpi-eeprom-config` reads and rewrites it (docs/raspberry-pi.md §4). Pure: bytes in, bytes out.
 *
 * Layout (§4 "Image layout"): a chain of sections, each a big-endian u32 magic and a big-endian
 * u32 length; the next section starts at `offset + 8 + length` rounded up to 8. A magic is valid
 * when `magic & 0xfffff00f == 0x55aaf00f`; a magic of 0 or 0xffffffff ends the chain. File
 * sections (magic 0x55aaf11f) hold a 12-byte NUL-padded name and 4 unread bytes before the data
 * (so data starts 24 bytes into the section), and `length = data size + 16`.
 */

export const IMAGE_SIZES = { 2711: 512 * 1024, 2712: 2 * 1024 * 1024 } as const;
export type Soc = keyof typeof IMAGE_SIZES;

export const MAGIC = 0x55aaf00f;
export const MAGIC_MASK = 0xfffff00f;
export const FILE_MAGIC = 0x55aaf11f;
export const PAD_MAGIC = 0x55aafeef;
/** magic (4) + length (4) + name (12): where a file's 4 unread bytes start. */
export const FILE_HDR_LEN = 20;
/** A file's data starts after the header and the 4 unread bytes (rpi-eeprom-config: `hdr_offset + 4 + FILE_HDR_LEN`). */
export const FILE_DATA_OFFSET = FILE_HDR_LEN + 4;
export const FILENAME_LEN = 12;
/** §4: one 4 KiB erase sector; the last one of the image belongs to the bootloader. */
export const ERASE_SIZE = 4096;
/** §4: at most 4076 bytes of data (4 KiB erase sector minus a 20-byte header). */
export const MAX_FILE_SIZE = ERASE_SIZE - FILE_HDR_LEN;
/** §4: only entries in the first partition of the A/B layout are rewritten. */
export const PARTITION_START = 64 * 1024;
export const PARTITION_END = PARTITION_START + 988 * 1024;
export const BOOTCONF = 'bootconf.txt';

export interface Section {
  magic: number;
  offset: number;
  /** The header's length field (bytes after the 8-byte header). */
  length: number;
  /** File sections only: the name without its NUL padding; '' otherwise. */
  name: string;
}

/** Bad input image; the message says what is wrong with which file. */
export class EepromError extends BootfleetError {
  override name = 'EepromError';
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** The SoC a bootloader image is for, by its size (512 KiB: BCM2711, 2 MiB: BCM2712). */
export function imageSoc(image: Uint8Array, what = 'EEPROM image'): Soc {
  if (image.length === IMAGE_SIZES[2711]) return 2711;
  if (image.length === IMAGE_SIZES[2712]) return 2712;
  throw new EepromError(`${what} is ${image.length} bytes; a Pi 4/400/CM4 bootloader image (pieeprom-*.bin) is 524288 bytes and a Pi 5 one 2097152`);
}

/** Every section header of the image, in order (§4 "Image layout"). */
export function parseSections(image: Uint8Array, what = 'EEPROM image'): Section[] {
  imageSoc(image, what);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const sections: Section[] = [];
  let offset = 0;
  while (offset + 8 <= image.length) {
    const magic = view.getUint32(offset);
    const length = view.getUint32(offset + 4);
    if (magic === 0 || magic === 0xffffffff) break;
    if ((magic & MAGIC_MASK) >>> 0 !== MAGIC) {
      throw new EepromError(`${what} is not a Raspberry Pi bootloader image: bad section magic 0x${hex(magic)} at offset ${offset} (use a pieeprom-*.bin from raspberrypi/rpi-eeprom)`);
    }
    const name = magic === FILE_MAGIC ? fileName(image, offset) : '';
    sections.push({ magic, offset, length, name });
    offset = align8(offset + 8 + length);
  }
  return sections;
}

/** Where `bootconf.txt` sits and how far it may grow: `rpi-eeprom-config` find_file(). */
export interface FileSlot {
  index: number;
  section: Section;
  /** It is the image's last section: no pad section is written after it (§4 step 3). */
  isLast: boolean;
  /** Offset of the next non-pad section, or the partition/scratch-page limit. */
  nextOffset: number;
}

/** Finds file `name` within the first partition window (§4). Throws naming the window if absent. */
export function findFile(image: Uint8Array, name = BOOTCONF, what = 'EEPROM image'): FileSlot {
  const sections = parseSections(image, what);
  const index = sections.findIndex((s) => s.magic === FILE_MAGIC && s.name === name && s.offset >= PARTITION_START && s.offset < PARTITION_END);
  const section = sections[index];
  if (index < 0 || !section) {
    const names = sections.filter((s) => s.magic === FILE_MAGIC).map((s) => `${s.name}@${s.offset}`).join(', ') || 'none';
    throw new EepromError(`${what} has no ${name} section between offsets ${PARTITION_START} and ${PARTITION_END} (file sections: ${names}); is it a complete pieeprom-*.bin?`);
  }
  let nextOffset = Math.min(image.length - ERASE_SIZE, PARTITION_END);
  const next = sections.slice(index + 1).find((s) => s.magic !== PAD_MAGIC);
  if (next) nextOffset = next.offset;
  return { index, section, isLast: index === sections.length - 1, nextOffset };
}

/** The data of file `name` (default bootconf.txt). */
export function readFile(image: Uint8Array, name = BOOTCONF, what = 'EEPROM image'): Uint8Array {
  const { section } = findFile(image, name, what);
  const start = section.offset + FILE_DATA_OFFSET;
  const size = section.length - FILENAME_LEN - 4;
  if (size < 0 || start + size > image.length) throw new EepromError(`${what}: ${name} section at ${section.offset} has an impossible length ${section.length}`);
  return image.slice(start, start + size);
}

/** The embedded bootloader config as text. */
export function readBootConf(image: Uint8Array, what = 'EEPROM image'): string {
  return new TextDecoder().decode(readFile(image, BOOTCONF, what));
}

/**
 * A copy of `image` whose file `name` holds `data`, laid out as §4 "Rewriting an entry" says
 * (and `rpi-eeprom-config` update() does): new length and data, 0xff to the next 8-byte
 * boundary, then, unless this is the last section, a pad section (0x55aafeef, length gap − 8,
 * body 0xff) when at least 8 bytes remain before the next real section; otherwise 0xff up to it.
 * Throws when the data exceeds 4076 bytes or the room before the next section. The room checks
 * use the data's real end (header + 4 unread bytes + data); rpi-eeprom-config checks 4 bytes
 * short of it, so where it would overwrite the next section's header we refuse instead.
 */
export function replaceFile(image: Uint8Array, data: Uint8Array, name = BOOTCONF, what = 'EEPROM image'): Uint8Array {
  if (data.length > MAX_FILE_SIZE) {
    throw new EepromError(`${name} would be ${data.length} bytes; the bootloader allows at most ${MAX_FILE_SIZE} (docs/raspberry-pi.md §4): drop keys from the config`);
  }
  const { section, isLast, nextOffset } = findFile(image, name, what);
  const hdr = section.offset;
  const end = hdr + FILE_DATA_OFFSET + data.length;
  if (end > image.length - ERASE_SIZE) {
    throw new EepromError(`${name} would be ${data.length} bytes; only ${image.length - ERASE_SIZE - hdr - FILE_DATA_OFFSET} fit before the bootloader's last 4 KiB: drop keys from the config`);
  }
  if (end > nextOffset) {
    throw new EepromError(`${name} would be ${data.length} bytes; only ${nextOffset - hdr - FILE_DATA_OFFSET} fit before the next section at ${nextOffset}: drop keys from the config`);
  }
  const out = new Uint8Array(image);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(hdr + 4, data.length + FILENAME_LEN + 4);
  out.set(data, hdr + FILE_DATA_OFFSET);
  let pad = end;
  while (pad % 8 !== 0) out[pad++] = 0xff;
  let padBytes = nextOffset - pad;
  if (padBytes >= 8 && !isLast) {
    padBytes -= 8;
    view.setUint32(pad, PAD_MAGIC);
    view.setUint32(pad + 4, padBytes);
    pad += 8;
  }
  if (padBytes > 0) out.fill(0xff, pad, pad + padBytes);
  return out;
}

/** Replaces the embedded bootconf.txt with `config` (UTF-8). */
export function writeBootConf(image: Uint8Array, config: string, what = 'EEPROM image'): Uint8Array {
  return replaceFile(image, new TextEncoder().encode(config), BOOTCONF, what);
}

function fileName(image: Uint8Array, offset: number): string {
  const raw = image.subarray(offset + 8, offset + 8 + FILENAME_LEN);
  return new TextDecoder().decode(raw).replace(/\0+$/, '').replace(/\0/g, '');
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
