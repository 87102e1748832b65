import { BootfleetError } from '../errors.js';
import type { NetNamespace } from './netns.js';
import { LabProcess, type ProcessExit } from './process.js';

export type QemuArch = 'x86_64' | 'aarch64';
/** pc/q35: x86 (SeaBIOS + the NIC's iPXE ROM); virt: generic arm64; raspi3b: the Pi 3B board model. */
export type QemuMachine = 'pc' | 'q35' | 'virt' | 'raspi3b';
/**
 * virtio-net-pci and e1000 sit on PCI (pc, q35, virt); usb-net is the only NIC raspi3b can take:
 * the board model has no PCI, only the SoC's DesignWare OTG USB host (dwc2), like the real Pi 3B,
 * whose own LAN9514 also hangs off USB. QEMU puts a hub between the dwc2 port and the device.
 */
export type QemuNic = 'virtio-net-pci' | 'e1000' | 'usb-net';

/** Boot a kernel directly (QEMU's -kernel), skipping firmware and the network. */
export interface DirectBoot {
  kernel: string;
  initrd?: string;
  /** Kernel command line; a serial `console=` and `panic=-1` are added unless present. */
  append?: string;
  /** Device tree (needed for raspi3b: `<dtbDir>/broadcom/bcm2837-rpi-3-b.dtb`). */
  dtb?: string;
}

export interface QemuOptions {
  /** Names the process and its log ("node-1"). */
  name: string;
  arch?: QemuArch;
  /** Default pc on x86_64, virt on aarch64. */
  machine?: QemuMachine;
  /** Default 512 (raspi3b is always 1024: the board model insists). */
  memoryMiB?: number;
  /** `network` = PXE via the NIC ROM (x86) or the UEFI `firmware` (aarch64 virt). */
  boot: 'network' | DirectBoot;
  /** Tap device (already on the lab bridge) for the NIC; without one the guest has no NIC at all. */
  tap?: string;
  mac?: string;
  /** Default virtio-net-pci (its ROM is iPXE with ipxe-qemu); on raspi3b usb-net, the only one it takes. */
  nic?: QemuNic;
  /**
   * The NIC's option ROM: unset keeps QEMU's (iPXE from ipxe-qemu); '' loads none, so UEFI
   * firmware (OVMF, AAVMF) does the first DHCP/TFTP with its own PXE, as on most real machines.
   */
  nicRom?: string;
  /** -bios image, e.g. UEFI firmware for aarch64 network boot. */
  firmware?: string;
  /** Run QEMU inside this namespace (its tap lives there). */
  netns?: NetNamespace;
  /** Serial console log (appended). */
  logFile?: string;
  extraArgs?: string[];
  /**
   * Let a guest reboot restart the machine (it netboots again), as real hardware does: what
   * rolling updates need. Default false: -no-reboot, so a guest power-off or panic ends QEMU and
   * a test waiting on the console fails at once instead of timing out.
   */
  reboot?: boolean;
}

/**
 * The QEMU command line for `opts` (pure; exported for tests and for printing a reproducer).
 * Always TCG (KVM guests hang on our hosts), serial console on stdout, no monitor, no display,
 * -no-reboot so a guest power-off or panic ends the process. A guest never gets QEMU's default
 * user-mode NIC: without a tap it has no network, so a test cannot reach outside addresses.
 */
export function qemuCommand(opts: QemuOptions): [string, string[]] {
  const arch = opts.arch ?? 'x86_64';
  const machine = opts.machine ?? (arch === 'x86_64' ? 'pc' : 'virt');
  checkCombination(arch, machine, opts);
  const memory = machine === 'raspi3b' ? 1024 : (opts.memoryMiB ?? 512);
  const args = ['-name', opts.name, '-accel', 'tcg', '-M', machine, '-m', String(memory)];
  if (machine === 'virt') args.push('-cpu', 'cortex-a57');
  args.push('-nographic', '-monitor', 'none', '-serial', 'stdio', ...(opts.reboot ? [] : ['-no-reboot']));
  if (opts.firmware) args.push('-bios', opts.firmware);
  args.push(...nicArgs(opts, machine));
  if (opts.boot === 'network') args.push('-boot', 'n');
  else args.push(...directBootArgs(opts.boot, arch, machine));
  args.push(...(opts.extraArgs ?? []));
  return [`qemu-system-${arch}`, args];
}

function checkCombination(arch: QemuArch, machine: QemuMachine, opts: QemuOptions): void {
  const x86 = machine === 'pc' || machine === 'q35';
  if (x86 !== (arch === 'x86_64')) throw new BootfleetError('ERR_LAB', `${opts.name}: machine ${machine} is not a ${arch} machine`);
  if (machine === 'raspi3b') checkRaspi3b(opts);
  else if (opts.nic === 'usb-net') throw new BootfleetError('ERR_LAB', `${opts.name}: usb-net is the raspi3b NIC; ${machine} takes virtio-net-pci or e1000`);
  if (opts.boot === 'network' && !opts.tap) throw new BootfleetError('ERR_LAB', `${opts.name}: network boot needs a tap`);
  if (opts.boot === 'network' && !x86 && !opts.firmware) {
    throw new BootfleetError('ERR_LAB', `${opts.name}: network boot on ${machine} needs UEFI firmware (e.g. QEMU_EFI.fd from qemu-efi-aarch64)`);
  }
}

function checkRaspi3b(opts: QemuOptions): void {
  // QEMU runs neither the Pi boot ROM nor bootcode.bin/start.elf, so nothing on the board model
  // can fetch a kernel over the network: the Pi boot files are given directly (-kernel, -dtb).
  if (opts.boot === 'network') {
    throw new BootfleetError('ERR_LAB', `${opts.name}: raspi3b cannot network boot (QEMU does not run the Pi firmware); give kernel8.img, the dtb and initramfs8 as a direct boot`);
  }
  if (opts.nic !== undefined && opts.nic !== 'usb-net') {
    throw new BootfleetError('ERR_LAB', `${opts.name}: raspi3b has no PCI bus for ${opts.nic}; its NIC is usb-net on the dwc2 USB host`);
  }
  if (opts.nicRom !== undefined) throw new BootfleetError('ERR_LAB', `${opts.name}: usb-net on raspi3b has no option ROM to set`);
}

function nicArgs(opts: QemuOptions, machine: QemuMachine): string[] {
  if (!opts.tap) return machine === 'raspi3b' ? [] : ['-nic', 'none'];
  // usb-net's mac= is the address the guest's cdc_ether/rndis_host driver takes for its
  // interface (QEMU reports it in the CDC iMACAddress string and the RNDIS permanent address).
  const device = [
    opts.nic ?? (machine === 'raspi3b' ? 'usb-net' : 'virtio-net-pci'), 'netdev=n0',
    ...(opts.mac ? [`mac=${opts.mac}`] : []),
    ...(opts.nicRom !== undefined ? [`romfile=${opts.nicRom}`] : []),
  ].join(',');
  return ['-netdev', `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`, '-device', device];
}

function directBootArgs(boot: DirectBoot, arch: QemuArch, machine: QemuMachine): string[] {
  const console = arch === 'x86_64' ? 'ttyS0' : 'ttyAMA0';
  let append = boot.append ?? '';
  if (!/\bconsole=/.test(append)) append = `console=${console} ${append}`;
  // panic=-1 reboots at once on a panic; with -no-reboot that ends QEMU, so waitFor fails fast.
  if (!/\bpanic=/.test(append)) append = `${append} panic=-1`;
  const args = ['-kernel', boot.kernel, '-append', append.trim().replace(/\s+/g, ' ')];
  if (boot.initrd) args.push('-initrd', boot.initrd);
  if (boot.dtb) args.push('-dtb', boot.dtb);
  else if (machine === 'raspi3b') throw new BootfleetError('ERR_LAB', 'raspi3b needs a dtb (bcm2837-rpi-3-b.dtb)');
  return args;
}

/** A running QEMU guest whose serial console is captured. */
export class QemuNode {
  private constructor(
    readonly name: string,
    readonly mac: string | undefined,
    readonly command: [string, string[]],
    private readonly proc: LabProcess,
  ) {}

  /** Starts QEMU (inside `opts.netns` if given) and returns at once; use `waitFor` to follow it. */
  static start(opts: QemuOptions): QemuNode {
    const command = qemuCommand(opts);
    const argv = opts.netns ? opts.netns.wrap(command[0], command[1]) : command;
    const proc = new LabProcess(argv, { name: opts.name, ...(opts.logFile ? { logFile: opts.logFile } : {}) });
    return new QemuNode(opts.name, opts.mac, command, proc);
  }

  get pid(): number {
    return this.proc.pid;
  }

  get logFile(): string | undefined {
    return this.proc.options.logFile;
  }

  get exited(): Promise<ProcessExit> {
    return this.proc.exited;
  }

  get running(): boolean {
    return this.proc.running;
  }

  /** Console output so far. */
  output(): string {
    return this.proc.output();
  }

  /** Resolves when the console matches; rejects on timeout or exit with the last 40 lines. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return this.proc.waitFor(pattern, timeoutMs);
  }

  /** Kills this QEMU (by PID) and waits for it to go. */
  stop(): Promise<ProcessExit> {
    return this.proc.stop(2000);
  }
}
