import type { BootClient, Firmware, PiModel } from './firmware.js';
import { initramfsClient, isIpxe, piModel } from './firmware.js';
import type { MachineSpec } from './policy.js';

/**
 * What the DHCP answer carries for one client message. Protocol-neutral: the controller turns it
 * into DHCP fields (src/controller/dhcp-answer.ts).
 */
export type DhcpBoot =
  /** Load this file over TFTP (an iPXE binary) from the controller. */
  | { kind: 'tftp'; firmware: Firmware; file: string }
  /** iPXE is running: fetch the per-node script over HTTP. */
  | { kind: 'ipxe-script'; url: string; skipProxyWait: boolean }
  /** A Raspberry Pi bootloader: answer with the "Raspberry Pi Boot" PXE menu (option 43). */
  | { kind: 'rpi'; model: PiModel; padMenuString: boolean }
  /** Nothing to boot: a plain client, one we have no loader for, or one not admitted. */
  | { kind: 'none'; reason: string };

export interface DhcpContext {
  /** Base URL of the controller's HTTP server, e.g. `http://198.18.0.1:8080`. */
  httpBase: string;
  /** full: our offer carries the boot info; proxy: a router hands out addresses. */
  dhcpMode: 'full' | 'proxy';
}

/** Per-boot state the decision depends on beyond the packet. */
export interface BootProgress {
  /** The node fetched our iPXE binary over TFTP since it last fetched its script: it runs ours now. */
  loadedOurIpxe: boolean;
}

/**
 * The DHCP part of a machine's spec, for one message (DISCOVER, REQUEST …). Called for every
 * DHCP packet of a boot, so it is cheap and pure. A machine that is not admitted gets nothing
 * bootable: only the Pi menu, which a pending Pi needs to ask for its files under its serial (so
 * it shows up in `node list` to be approved) — TFTP then serves it nothing bootable.
 */
export function dhcpBoot(client: BootClient, spec: MachineSpec, progress: BootProgress, ctx: DhcpContext): DhcpBoot {
  if (initramfsClient(client)) return { kind: 'none', reason: 'our initramfs: booted already' };
  if (spec.firmware === 'rpi' && !isIpxe(client)) {
    const model = piModel(client) ?? 'unknown';
    // Only the Pi 3B ROM needs the padded "Raspberry Pi Boot   " (docs/boot-flow.md, Pi 3B quirks).
    return { kind: 'rpi', model, padMenuString: model === 'pi3' };
  }
  if (spec.admission !== 'admitted') return { kind: 'none', reason: spec.reason };
  if (isIpxe(client)) {
    // A NIC ROM that is iPXE already runs the script directly — unless the node asks to run our
    // iPXE first and has not loaded it yet.
    if (spec.chainloadIpxe && !progress.loadedOurIpxe && spec.loader) return { kind: 'tftp', firmware: spec.firmware, file: spec.loader };
    return {
      kind: 'ipxe-script',
      url: `${ctx.httpBase}/boot.ipxe?mac=${encodeURIComponent(client.mac)}`,
      // Option 175.176 (no-pxedhcp) is only safe when our offer carries the boot info.
      skipProxyWait: ctx.dhcpMode === 'full',
    };
  }
  if (spec.loader) return { kind: 'tftp', firmware: spec.firmware, file: spec.loader };
  return { kind: 'none', reason: client.vendorClass ? `no loader for ${client.vendorClass}` : 'not a network-boot client' };
}
