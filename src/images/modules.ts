import { execa } from 'execa';
import { readFile, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BootfleetError, errorMessage } from '../errors.js';
import type { DebianKernel } from './debs.js';

/**
 * Kernel module resolution for the node initramfs: which `.ko` files a set of module names
 * needs, dependencies first, straight from an unpacked Debian kernel tree.
 *
 * Why we read each module's own `.modinfo` instead of running `depmod -b`: Debian's
 * linux-image .deb ships no modules.dep (its postinst runs depmod), `depmod` comes from `kmod`,
 * which is not installed on our build hosts, and busybox's depmod applet ignores softdeps. The
 * `depends=` and `softdep=` strings that depmod itself reads are in each module's `.modinfo` ELF
 * section, and we only open the handful of modules in the closure, so this is fast, needs no
 * extra package and no writable copy of the tree.
 */

/** A module to resolve; `optional` ones that the kernel lacks are skipped instead of an error. */
export type ModuleRequest = string | { name: string; optional?: boolean };

/** One loadable module, in load order. */
export interface ResolvedModule {
  /** Canonical name (dashes as underscores, as the kernel and `lsmod` spell it). */
  name: string;
  /** The file in the kernel tree (may be compressed: see {@link readModule}). */
  path: string;
  /** Where it goes under lib/modules/<version>/, compression suffix removed ("kernel/fs/overlayfs/overlay.ko"). */
  installPath: string;
}

export interface ModuleResolution {
  /** Dependencies before dependents; each module once. */
  modules: ResolvedModule[];
  /** Requested or needed names that are built into the kernel (nothing to load). */
  builtin: string[];
  /** Optional requests (and soft dependencies) this kernel has neither as module nor built in. */
  skipped: string[];
}

/**
 * What a netbooting node needs per architecture: the root's filesystems (squashfs on a loop
 * device under overlayfs), raw packet sockets for udhcpc, and the NIC drivers we expect.
 * On Debian 12's 6.1 kernels af_packet is built in and so is virtio on arm64 but not on amd64,
 * which is why virtio_pci is listed: virtio_net's `depends=` does not name the PCI transport.
 */
export const NODE_MODULES: Readonly<Record<'amd64' | 'arm64', readonly ModuleRequest[]>> = {
  amd64: ['squashfs', 'overlay', 'loop', 'af_packet', 'virtio_pci', 'virtio_net', 'e1000', 'e1000e'],
  arm64: [
    'squashfs', 'overlay', 'loop', 'af_packet',
    // QEMU -M virt: virtio-net on PCI (ECAM host bridge is built in) or on virtio-mmio.
    'virtio_pci', 'virtio_mmio', 'virtio_net', 'e1000', 'e1000e',
    // Pi 3B/3B+: the NICs hang off USB behind the DesignWare OTG controller (dwc2): LAN9514
    // (smsc95xx) on the 3B, LAN7515 (lan78xx) on the 3B+. usbcore and usbnet/mii come from
    // depends=. docs/images.md ("Network drivers") has the sources. phy_generic drives the
    // "usb-nop-xceiv" PHY the device tree gives dwc2 (phys = <&usbphy>): no depends= names it,
    // and without it fw_devlink holds dwc2 back until the deferred-probe timeout (~11 s late
    // under QEMU), so the NIC would show up only after that.
    'phy_generic', 'dwc2', 'smsc95xx', 'lan78xx',
    // USB Ethernet adapters on boards without onboard LAN (Zero 2 W, 3A+, CM3/CM4 carriers):
    // Realtek RTL8152/8153, ASIX AX88179/178A, and CDC Ethernet / RNDIS devices (USB gadgets,
    // many adapters in their class mode, and QEMU's usb-net, which the raspi3b lab test uses).
    'r8152', 'ax88179_178a', 'cdc_ether', 'rndis_host',
    // Pi 4/400/CM4: GENET. Its module is "genet" (drivers/net/ethernet/broadcom/genet/Makefile:
    // obj-$(CONFIG_BCMGENET) += genet.o); the MDIO bus driver arrives via its softdep.
    'genet',
    // PHY drivers the boards use; without them phylib falls back to the generic PHY driver.
    { name: 'broadcom', optional: true }, { name: 'microchip', optional: true }, { name: 'smsc', optional: true },
  ],
};

/** `foo-bar` and `foo_bar` are the same module to the kernel (scripts/mod/modpost, kmod). */
export function canonicalName(name: string): string {
  return name.replace(/-/g, '_');
}

const COMPRESSED = /\.ko(\.(xz|zst|gz))?$/;

interface ModuleIndex {
  /** canonical name → path relative to the modules dir. */
  files: Map<string, string>;
  builtin: Set<string>;
}

const indexes = new Map<string, Promise<ModuleIndex>>();

/** Name → file index of a kernel tree, built once per modules dir and process. */
function moduleIndex(modulesDir: string): Promise<ModuleIndex> {
  let p = indexes.get(modulesDir);
  if (!p) {
    p = buildIndex(modulesDir);
    indexes.set(modulesDir, p);
    p.catch(() => indexes.delete(modulesDir));
  }
  return p;
}

async function buildIndex(modulesDir: string): Promise<ModuleIndex> {
  const files = new Map<string, string>();
  let entries: string[];
  try {
    entries = (await readdir(join(modulesDir, 'kernel'), { recursive: true })).sort();
  } catch (err) {
    throw new BootfleetError('ERR_COMMAND_FAILED', `kernel modules: cannot read ${modulesDir}/kernel: ${errorMessage(err)}`, { cause: err });
  }
  for (const rel of entries) {
    if (!COMPRESSED.test(rel)) continue;
    const name = canonicalName(posix.basename(rel).replace(COMPRESSED, ''));
    // The first path wins, like depmod's search order within one directory: deterministic.
    if (!files.has(name)) files.set(name, posix.join('kernel', rel));
  }
  // modules.builtin lists "kernel/net/packet/af_packet.ko" for every built-in module.
  const builtinText = await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '');
  const builtin = new Set(
    builtinText.split('\n').filter(Boolean).map((l) => canonicalName(posix.basename(l.trim()).replace(COMPRESSED, ''))),
  );
  return { files, builtin };
}

/**
 * Resolves `requests` against `kernel`'s module tree: each name with the closure of its
 * `depends=` (required) and `softdep=pre:` (optional: e.g. genet's "pre: mdio-bcm-unimac",
 * which it needs to find its PHY) modules, ordered so every module follows what it needs.
 * Built-in names need no file. A required name that is neither a module nor built in fails with
 * ERR_COMMAND_FAILED naming it and the kernel version; so does a dependency cycle.
 */
export async function resolveModules(kernel: Pick<DebianKernel, 'version' | 'modulesDir'>, requests: readonly ModuleRequest[]): Promise<ModuleResolution> {
  const index = await moduleIndex(kernel.modulesDir);
  const modules: ResolvedModule[] = [];
  const builtin = new Set<string>();
  const skipped = new Set<string>();
  const done = new Set<string>();
  const visiting: string[] = [];

  const visit = async (rawName: string, optional: boolean, wantedBy: string | undefined): Promise<void> => {
    const name = canonicalName(rawName);
    if (done.has(name)) return;
    if (visiting.includes(name)) {
      throw new BootfleetError('ERR_COMMAND_FAILED', `kernel ${kernel.version}: module dependency cycle ${[...visiting, name].join(' -> ')}`);
    }
    if (index.builtin.has(name)) {
      builtin.add(name);
      done.add(name);
      return;
    }
    const rel = index.files.get(name);
    if (rel === undefined) {
      if (optional) {
        skipped.add(name);
        done.add(name);
        return;
      }
      const by = wantedBy ? ` (needed by ${wantedBy})` : '';
      throw new BootfleetError('ERR_COMMAND_FAILED', `kernel ${kernel.version} has no module "${rawName}"${by}: neither a .ko under ${kernel.modulesDir}/kernel nor listed in modules.builtin`);
    }
    visiting.push(name);
    const path = join(kernel.modulesDir, rel);
    const info = parseModinfo(elfSection(await readModule(path), '.modinfo', path));
    for (const dep of info.depends) await visit(dep, false, name);
    for (const dep of info.softPre) await visit(dep, true, name);
    visiting.pop();
    done.add(name);
    modules.push({ name, path, installPath: rel.replace(COMPRESSED, '.ko') });
  };

  for (const r of requests) {
    const { name, optional } = typeof r === 'string' ? { name: r, optional: false } : { name: r.name, optional: r.optional ?? false };
    await visit(name, optional, undefined);
  }
  return { modules, builtin: [...builtin].sort(), skipped: [...skipped].sort() };
}

/**
 * The module's bytes, decompressed: busybox `insmod` passes the file to init_module(2) as is
 * and cannot load .ko.xz/.ko.zst (only kmod with finit_module flags can), so compressed
 * modules (Debian 12 ships plain .ko; later releases and other distributions compress) are
 * unpacked at build time with xz/zstd (xz-utils, zstd) or zlib.
 */
export async function readModule(path: string): Promise<Buffer> {
  if (path.endsWith('.ko')) return readFile(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(await readFile(path));
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (!tool) throw new BootfleetError('ERR_INTERNAL', `kernel modules: ${path} is not a module file`);
  const r = await execa(tool, ['-dc', path], { encoding: 'buffer', reject: false, stripFinalNewline: false });
  if (r.exitCode !== 0) {
    throw new BootfleetError('ERR_COMMAND_FAILED', `${tool} -dc ${path} failed (exit ${r.exitCode}): ${Buffer.from(r.stderr).toString().trim() || r.shortMessage}`);
  }
  return Buffer.from(r.stdout);
}

interface Modinfo {
  depends: string[];
  softPre: string[];
}

/**
 * `.modinfo` is NUL-separated "key=value" strings. `depends=a,b` (hard, from modpost) and
 * `softdep=pre: x y post: z` (MODULE_SOFTDEP). Post softdeps are not needed to bring the
 * requested module up, so they are left out.
 */
export function parseModinfo(section: Buffer): Modinfo {
  const depends: string[] = [];
  const softPre: string[] = [];
  for (const entry of section.toString('latin1').split('\0')) {
    if (entry.startsWith('depends=')) depends.push(...entry.slice(8).split(',').filter(Boolean));
    if (entry.startsWith('softdep=')) {
      let pre = false;
      for (const word of entry.slice(8).trim().split(/\s+/)) {
        if (word === 'pre:') pre = true;
        else if (word === 'post:') pre = false;
        else if (pre && word) softPre.push(word);
      }
    }
  }
  return { depends, softPre };
}

/**
 * The bytes of section `name` of a 64-bit little-endian ELF relocatable (every amd64 and arm64
 * module). Offsets per the ELF-64 spec: e_shoff @0x28, e_shentsize @0x3a, e_shnum @0x3c,
 * e_shstrndx @0x3e; in a section header sh_name @0, sh_offset @0x18, sh_size @0x20.
 */
export function elfSection(elf: Buffer, name: string, what = 'module'): Buffer {
  const bad = (why: string): BootfleetError => new BootfleetError('ERR_COMMAND_FAILED', `${what}: not a readable kernel module (${why})`);
  if (elf.length < 0x40 || elf.readUInt32BE(0) !== 0x7f454c46) throw bad('no ELF header');
  if (elf[4] !== 2 || elf[5] !== 1) throw bad('not 64-bit little-endian ELF');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const header = (i: number): { nameOff: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    if (at + 0x28 > elf.length) throw bad('section header out of range');
    return { nameOff: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 0x18)), size: Number(elf.readBigUInt64LE(at + 0x20)) };
  };
  const strtab = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const start = strtab.offset + h.nameOff;
    const end = elf.indexOf(0, start);
    if (end < 0) throw bad('section name out of range');
    if (elf.toString('latin1', start, end) === name) {
      if (h.offset + h.size > elf.length) throw bad(`${name} out of range`);
      return elf.subarray(h.offset, h.offset + h.size);
    }
  }
  throw bad(`no ${name} section`);
}
