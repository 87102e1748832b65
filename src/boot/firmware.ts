/**
 * Who is asking: classifies a DHCP client from the options its firmware sends. Pure; no sockets.
 */

/**
 * The platform firmware kinds bootfleet boots. 'none' is a plain DHCP client (udhcpc, a laptop).
 * iPXE is not a firmware of its own: it runs on one of these platforms (a BIOS or UEFI PC, an
 * arm64 UEFI server) and says so in option 93, so a UEFI machine stays `efi-x64` once its
 * firmware has handed over to iPXE; {@link isIpxe} tells whether iPXE is the one asking.
 */
export type Firmware = 'bios' | 'efi-x64' | 'efi-arm64' | 'rpi' | 'direct' | 'none';

export type PiModel = 'pi3' | 'pi3b+' | 'pi4' | 'pi5' | 'unknown';

/** What a boot decision needs to know about a DHCP client. */
export interface BootClient {
  mac: string;
  /** Option 93 (RFC 4578 client system architecture), undefined if absent. */
  arch: number | undefined;
  /** Option 60 vendor class identifier, e.g. `PXEClient:Arch:00000:UNDI:002001`. */
  vendorClass: string | undefined;
  /** Option 77 user classes; iPXE sends `iPXE`. */
  userClasses: readonly string[];
  /** Option 97 client machine identifier (type byte + 16 bytes). */
  clientUuid: Uint8Array | undefined;
}

/** RFC 4578 §2.1 / IANA "Processor Architecture Types" we act on. */
export const Arch = {
  BiosX86: 0,
  EfiIa32: 6,
  EfiX64: 7,
  EfiBc: 9,
  EfiArm64: 11,
  EfiX64Http: 16,
  EfiArm64Http: 19,
} as const;

// Raspberry Pi Foundation / Raspberry Pi Trading OUIs (b8:27:eb is the Pi 1-3 range).
const PI_OUIS = ['b8:27:eb', 'dc:a6:32', 'e4:5f:01', 'd8:3a:dd', '28:cd:c1', '2c:cf:67'];

export function isPxeClient(c: BootClient): boolean {
  return c.vendorClass?.startsWith('PXEClient') ?? false;
}

export function isIpxe(c: BootClient): boolean {
  return c.userClasses.includes('iPXE');
}

/** Our own initramfs names itself in option 60: `bootfleet-initramfs:<uname -m>[:rpi]` (images/initramfs/init). */
const INITRAMFS_VENDOR = /^bootfleet-initramfs:(x86_64|aarch64)(:rpi)?$/;

export function initramfsClient(c: Pick<BootClient, 'vendorClass'>): { arch: 'amd64' | 'arm64'; pi: boolean } | undefined {
  const m = INITRAMFS_VENDOR.exec(c.vendorClass ?? '');
  if (!m) return undefined;
  return { arch: m[1] === 'aarch64' ? 'arm64' : 'amd64', pi: m[2] !== undefined };
}

/** The FourCC the Pi 4/5 EEPROM bootloader puts in option 97 (docs/raspberry-pi.md §2, §3). */
function piFourCC(uuid: Uint8Array | undefined): 'RPi4' | 'RPi5' | undefined {
  if (!uuid) return undefined;
  // Option 97 is a type byte (0) followed by the 16-byte identifier (RFC 4578 §2.3).
  const text = Buffer.from(uuid.subarray(0, 5)).toString('latin1');
  if (text.includes('RPi4')) return 'RPi4';
  if (text.includes('RPi5')) return 'RPi5';
  return undefined;
}

export function piModel(c: BootClient): PiModel | undefined {
  const fourcc = piFourCC(c.clientUuid);
  if (fourcc === 'RPi4') return 'pi4';
  if (fourcc === 'RPi5') return 'pi5';
  if (!isPxeClient(c) || c.arch !== Arch.BiosX86) return undefined;
  const oui = c.mac.slice(0, 8);
  if (!PI_OUIS.includes(oui)) return undefined;
  // The 3B ROM sends a constant option 97; the 3B+ derives it from its serial (docs/raspberry-pi.md §1).
  // Newer boards with these OUIs all carry a FourCC, so what is left is a Pi 3 family ROM.
  return oui === 'b8:27:eb' && isConstantPi3Uuid(c.clientUuid) ? 'pi3' : oui === 'b8:27:eb' ? 'pi3b+' : 'unknown';
}

/** The 3B's constant identifier is all one repeated byte pattern; a serial-derived one is not. */
function isConstantPi3Uuid(uuid: Uint8Array | undefined): boolean {
  if (!uuid || uuid.length < 17) return true;
  const body = uuid.subarray(1);
  return body.every((b) => b === body[0]);
}

/**
 * Classifies a client's platform. The order matters: a Pi's ROM also says PXEClient with arch 0.
 * iPXE sends option 93 for the platform it runs on (RFC 4578 §2.1), like the PXE ROM before it.
 */
export function classifyFirmware(c: BootClient): Firmware {
  const initramfs = initramfsClient(c);
  if (initramfs) return initramfs.pi ? 'rpi' : 'direct';
  if (!isIpxe(c) && piModel(c) !== undefined) return 'rpi';
  if (!isPxeClient(c) && !isIpxe(c)) return 'none';
  return platformOf(c.arch);
}

function platformOf(arch: number | undefined): Firmware {
  switch (arch) {
    case undefined:
    case Arch.BiosX86:
      return 'bios';
    case Arch.EfiX64:
    case Arch.EfiBc:
    case Arch.EfiX64Http:
      return 'efi-x64';
    case Arch.EfiArm64:
    case Arch.EfiArm64Http:
      return 'efi-arm64';
    default:
      // 32-bit EFI and exotic architectures: we ship no iPXE for them.
      return 'none';
  }
}
