import type { BootClient, Firmware, PiModel } from './firmware.js';
import { classifyFirmware, isIpxe, piModel } from './firmware.js';

/**
 * What a machine gets. Protocol-neutral: the controller turns it into DHCP fields, and the same
 * spec explains a boot in `node list`.
 */
export type BootSpec =
  /** Load this file over TFTP (an iPXE binary) from the controller. */
  | { kind: 'tftp'; firmware: Firmware; file: string }
  /** iPXE is running: fetch the per-node script over HTTP. */
  | { kind: 'ipxe-script'; url: string; skipProxyWait: boolean }
  /** A Raspberry Pi bootloader: answer with the "Raspberry Pi Boot" PXE menu (option 43). */
  | { kind: 'rpi'; model: PiModel; padMenuString: boolean }
  /** Nothing to boot: a plain client, or one we have no loader for. */
  | { kind: 'none'; reason: string };

export interface BootPolicy {
  /** Base URL of the controller's HTTP server, e.g. `http://198.18.0.1:8080`. */
  httpBase: string;
  /** iPXE binaries per firmware (TFTP paths). */
  ipxeFiles: { bios: string; efiX64: string; efiArm64: string };
  /** full: our offer carries the boot info; proxy: a router hands out addresses. */
  dhcpMode: 'full' | 'proxy';
}

/** Per-node facts the decision may depend on. */
export interface NodeBootState {
  /** Chainload the controller's iPXE even when the NIC ROM is already iPXE. */
  chainloadIpxe: boolean;
  /** The node fetched our iPXE binary over TFTP since its last firmware DHCP: it is running ours now. */
  loadedOurIpxe: boolean;
}

/**
 * The single "what does this machine get?" decision (DESIGN.md, style principle 2). Called for
 * every DHCP packet of a boot, so it must be cheap and pure.
 */
export function decideBoot(client: BootClient, node: NodeBootState, policy: BootPolicy): BootSpec {
  const firmware = classifyFirmware(client);
  if (isIpxe(client) && firmware !== 'none') {
    // A NIC ROM that is iPXE already can run the script directly (docs/boot-flow.md) —
    // unless the node asks to run our iPXE first and has not loaded it yet.
    if (node.chainloadIpxe && !node.loadedOurIpxe) {
      return { kind: 'tftp', firmware, file: ipxeFileFor(firmware, policy) };
    }
    return {
      kind: 'ipxe-script',
      url: `${policy.httpBase}/boot.ipxe?mac=${encodeURIComponent(client.mac)}`,
      // Option 175.176 (no-pxedhcp) is only safe when our offer carries the boot info.
      skipProxyWait: policy.dhcpMode === 'full',
    };
  }
  switch (firmware) {
    case 'bios':
    case 'efi-x64':
    case 'efi-arm64':
      return { kind: 'tftp', firmware, file: ipxeFileFor(firmware, policy) };
    case 'rpi': {
      const model = piModel(client) ?? 'unknown';
      // Only the Pi 3B ROM needs the padded "Raspberry Pi Boot   " (pi-netboot.md §1).
      return { kind: 'rpi', model, padMenuString: model === 'pi3' };
    }
    case 'none':
      return { kind: 'none', reason: client.vendorClass ? `no loader for ${client.vendorClass}` : 'not a network-boot client' };
  }
}

function ipxeFileFor(firmware: Firmware, policy: BootPolicy): string {
  if (firmware === 'efi-x64') return policy.ipxeFiles.efiX64;
  if (firmware === 'efi-arm64') return policy.ipxeFiles.efiArm64;
  return policy.ipxeFiles.bios;
}
