import type { BootTarget, PiBoot } from '../config.js';
import type { BootImage } from '../images/boot-image.js';
import type { DebArch } from '../images/apt-config.js';
import type { Firmware } from './firmware.js';
import { defaultHostname } from './hostname.js';

/**
 * The one answer to "what does this machine get?" (docs/boot-flow.md, docs/security.md). DHCP,
 * TFTP and HTTP all serve from the spec this returns and decide nothing of their own: whether the
 * machine may boot at all, its hostname, the iPXE binary its firmware loads, its image, kernel,
 * initrds and command line, its root and overlay. Pure and synchronous: the controller gathers the
 * facts (the node registry, enrollment, the image catalogue) and calls it per request.
 */

/** admitted: boots; pending: gets an address and nothing bootable until approved; refused: nothing of ours. */
export type Admission = 'admitted' | 'pending' | 'refused';

/** `policy.admit`: whether a kind of machine needs approval (`bootfleet node add`) before it boots. */
export interface AdmitPolicy {
  rpi: 'approve' | 'open';
  pc: 'approve' | 'open';
}

/** A machine the operator approved (`bootfleet node add`), by MAC or, for a Pi, by serial. */
export interface Enrollment {
  mac?: string;
  /** A Pi's serial: 8 lower-case hex digits, the folder it asks under over TFTP. */
  serial?: string;
  model?: string;
  hostname?: string;
  /** Image ref (`name` or `name@version`) this machine boots instead of the default. */
  image?: string;
  addedAt: string;
}

/** A machine as the controller knows it when a request arrives. */
export interface Machine {
  mac: string;
  firmware: Firmware;
  /** A Pi's serial, once learned from the folder it asks under. */
  serial?: string;
  /** The CPU the node reported itself (the initramfs's `?arch=`); wins over the firmware's guess. */
  arch?: DebArch;
}

/** A `nodes:` entry of the config: static per-node preferences (listing a MAC there approves it). */
export interface ConfiguredNode {
  hostname?: string;
  image?: string;
  chainloadIpxe: boolean;
}

export interface PolicyContext {
  /** `http://<address>:<port>`: how nodes reach the controller. */
  httpBase: string;
  admit: AdmitPolicy;
  enrolled: readonly Enrollment[];
  configured: ReadonlyMap<string, ConfiguredNode>;
  /** A rollout's image for this node (ClusterState.images), if any: wins over every other source. */
  assignedImage?: (mac: string) => string | undefined;
  /** `images.default`: what a node boots without an assignment. */
  defaultImage?: string;
  /** `boot.default`: a plain kernel + initrds from bootDir, when no image is assigned at all. */
  bootDefault?: BootTarget;
  /** iPXE binaries (TFTP names) per firmware. */
  ipxeFiles: { bios: string; efiX64: string; efiArm64: string };
  /** What a Pi's config.txt names. */
  piBoot: PiBoot;
  /** The image catalogue: the build of `ref` for `arch`, or undefined. */
  findImage: (ref: string, arch: DebArch) => BootImage | undefined;
}

/** Everything one machine gets; fields beyond the admission are set only when it is admitted. */
export interface MachineSpec {
  mac: string;
  firmware: Firmware;
  admission: Admission;
  /** Why, in words for `node list` and logs. */
  reason: string;
  hostname: string;
  arch: DebArch;
  /** PXE firmware (BIOS, UEFI): the iPXE binary it loads over TFTP. */
  loader?: string;
  /** Chainload the controller's iPXE even when the NIC ROM is iPXE already. */
  chainloadIpxe: boolean;
  /** The image ref that applies (assignment or default), resolved or not. */
  imageRef?: string;
  image?: BootImage;
  kernel?: { name: string; url: string };
  initrds: Array<{ name: string; url: string }>;
  cmdline: string;
  /**
   * The root the initramfs downloads, checks and stacks: the squashfs layers of one build, bottom
   * first. `legacy`: a boot set from before layers, whose one root.squashfs the boot info names
   * with the old keys its own (older) initramfs reads.
   */
  root?: { layers: RootLayer[]; legacy: boolean };
  /** The node's own overlay (rendered for it at request time). */
  overlayUrl?: string;
  /** Raspberry Pi: the image's rpi/ folder and what config.txt names. */
  pi?: { filesDir?: string; boot: PiBoot };
}

/** One squashfs layer of a node's root, where to fetch it and what it must be. */
export interface RootLayer {
  url: string;
  sha256: string;
  size: number;
}

export function machineSpec(m: Machine, ctx: PolicyContext): MachineSpec {
  const entry = enrollmentOf(m, ctx.enrolled);
  const configured = ctx.configured.get(m.mac);
  const arch = m.arch ?? archOf(m.firmware);
  const base: MachineSpec = {
    mac: m.mac,
    firmware: m.firmware,
    ...admissionOf(m, entry, configured !== undefined, ctx.admit),
    hostname: entry?.hostname ?? configured?.hostname ?? defaultHostname(m.mac),
    arch,
    chainloadIpxe: configured?.chainloadIpxe ?? false,
    initrds: [],
    cmdline: '',
  };
  if (base.admission !== 'admitted') return base;
  const imageRef = ctx.assignedImage?.(m.mac) ?? entry?.image ?? configured?.image ?? ctx.defaultImage;
  const image = imageRef === undefined ? undefined : ctx.findImage(imageRef, arch);
  return {
    ...base,
    ...(loaderFor(m.firmware, ctx) ? { loader: loaderFor(m.firmware, ctx) } : {}),
    ...(imageRef !== undefined ? { imageRef } : {}),
    ...(image ? imageBoot(m, image, ctx) : plainBoot(m, ctx)),
    ...(m.firmware === 'rpi' ? { pi: { ...(image ? { filesDir: `${image.dir}/rpi` } : {}), boot: ctx.piBoot } } : {}),
  };
}

/**
 * Approval: a machine listed in the config's `nodes:` or enrolled (by MAC, or a Pi by serial) is
 * approved; otherwise `policy.admit` for its kind decides (Pis wait for approval by default, PCs
 * boot). Never fails open: an unknown Pi is pending, and a machine we cannot classify is refused.
 */
function admissionOf(m: Machine, entry: Enrollment | undefined, configured: boolean, admit: AdmitPolicy): { admission: Admission; reason: string } {
  if (m.firmware === 'none') return { admission: 'refused', reason: 'not a network-boot client we have a loader for' };
  if (entry) return { admission: 'admitted', reason: entry.serial && entry.serial === m.serial ? `enrolled by serial ${entry.serial}` : 'enrolled by MAC' };
  if (configured) return { admission: 'admitted', reason: 'listed in the config (nodes:)' };
  const kind = m.firmware === 'rpi' ? 'rpi' : 'pc';
  if (admit[kind] === 'open') return { admission: 'admitted', reason: `policy.admit.${kind} is open` };
  return { admission: 'pending', reason: `waiting for approval (bootfleet node add${kind === 'rpi' ? ' --serial … or --mac …' : ' --mac …'})` };
}

/** The enrollment for this machine: by MAC, else (a Pi) by the serial it asks under. */
export function enrollmentOf(m: Pick<Machine, 'mac' | 'serial'>, enrolled: readonly Enrollment[]): Enrollment | undefined {
  return enrolled.find((e) => e.mac === m.mac) ?? (m.serial === undefined ? undefined : enrolled.find((e) => e.serial === m.serial && (e.mac === undefined || e.mac === m.mac)));
}

function loaderFor(firmware: Firmware, ctx: PolicyContext): string | undefined {
  if (firmware === 'bios') return ctx.ipxeFiles.bios;
  if (firmware === 'efi-x64') return ctx.ipxeFiles.efiX64;
  if (firmware === 'efi-arm64') return ctx.ipxeFiles.efiArm64;
  return undefined;
}

/** A Pi or an arm64 UEFI machine runs arm64; everything else we boot is a PC (`direct` nodes report their CPU). */
export function archOf(firmware: Firmware): DebArch {
  return firmware === 'rpi' || firmware === 'efi-arm64' ? 'arm64' : 'amd64';
}

/**
 * An image boots its own kernel and our initramfs, which then fetches the root's layers and the
 * node overlay from the controller (docs/boot-flow.md). The console is the platform's first
 * serial port; panic=10 makes a node that panics netboot again instead of hanging.
 */
function imageBoot(m: Machine, image: BootImage, ctx: PolicyContext): Partial<MachineSpec> {
  const base = `${ctx.httpBase}/images/${image.name}/${image.version}`;
  const root = rootOf(image, base, ctx.httpBase);
  return {
    image,
    kernel: { name: 'vmlinuz', url: `${base}/vmlinuz?mac=${m.mac}` },
    initrds: [{ name: 'initrd.img', url: `${base}/initrd.img?mac=${m.mac}` }],
    cmdline: `console=${serialConsole(m.firmware)} panic=10 bootfleet.controller=${ctx.httpBase}`,
    ...(root ? { root } : {}),
    overlayUrl: `${ctx.httpBase}/overlay/${m.mac}`,
  };
}

/**
 * The image's layers, served from the store's shared `/layers/<sha256>.squashfs` (docs/images.md
 * "Layers"); a boot set from before layers is a root of one layer, its own root.squashfs.
 */
function rootOf(image: BootImage, base: string, httpBase: string): MachineSpec['root'] {
  if (image.layers) {
    return { legacy: false, layers: image.layers.map((l) => ({ url: `${httpBase}/layers/${l.sha256}.squashfs`, sha256: l.sha256, size: l.size })) };
  }
  const single = image.files['root.squashfs'];
  return single ? { legacy: true, layers: [{ url: `${base}/root.squashfs`, sha256: single.sha256, size: single.size }] } : undefined;
}

/** Without an image: `boot.default`'s kernel and initrds from bootDir, if configured. */
function plainBoot(m: Machine, ctx: PolicyContext): Partial<MachineSpec> {
  const target = ctx.bootDefault;
  if (!target) return {};
  const fileUrl = (path: string): string => `${ctx.httpBase}/files/${path.split('/').filter(Boolean).map(encodeURIComponent).join('/')}?mac=${m.mac}`;
  return {
    kernel: { name: lastSegment(target.kernel), url: fileUrl(target.kernel) },
    initrds: target.initrd.map((path) => ({ name: lastSegment(path), url: fileUrl(path) })),
    cmdline: target.cmdline,
  };
}

/** The first serial port: the 8250 UART on PCs, the PL011 on arm64 (QEMU virt, servers). */
function serialConsole(firmware: Firmware): string {
  return firmware === 'efi-arm64' ? 'ttyAMA0' : 'ttyS0';
}

function lastSegment(path: string): string {
  return path.split('/').filter(Boolean).at(-1) ?? path;
}

/**
 * TFTP: whether this machine may have `file` (a path at the TFTP root, or under its Pi prefix).
 * Only an admitted machine gets anything bootable. The one exception is the generic Pi 3
 * `bootcode.bin` at the root: without it a pending Pi 3 never asks under its serial, so it could
 * never be identified and approved (it is the same file for every Pi 3 and boots nothing of ours).
 */
export function tftpAccess(spec: MachineSpec, file: { underPrefix: boolean; name: string }): boolean {
  if (spec.admission === 'refused') return false;
  if (!file.underPrefix && file.name === PI_GENERIC_BOOTCODE && spec.firmware === 'rpi') return true;
  return spec.admission === 'admitted';
}

export const PI_GENERIC_BOOTCODE = 'bootcode.bin';
