import type { DhcpBoot } from '../boot/decide.js';
import { Opt, IpxeSubOpt, encodeString, encodeSubOptions } from '../dhcp/options.js';

/** The DHCP fields a boot decision adds to a reply (the DhcpServer's BootAnswer). */
export interface DhcpBootFields {
  siaddr?: string;
  file?: string;
  sname?: string;
  options?: Array<[number, Buffer]>;
  commitOnOffer?: boolean;
}

// PXE 2.1 vendor options inside option 43 (PXE spec, table 2-1).
const PxeSub = { DiscoveryControl: 6, BootMenu: 9, MenuPrompt: 10 } as const;

/**
 * Turns a boot decision into DHCP reply fields. Pure. `undefined` means "nothing to add" (a
 * full-mode server still leases an address; a proxy stays silent).
 */
export function dhcpAnswerFor(spec: DhcpBoot, server: { address: string }): DhcpBootFields | undefined {
  switch (spec.kind) {
    case 'tftp':
      return {
        siaddr: server.address,
        file: spec.file,
        sname: server.address,
        options: [
          [Opt.VendorClass, encodeString('PXEClient')],
          // Discovery control bit 3: boot the file named in this offer, skip PXE boot-server
          // discovery (what pixiecore and dnsmasq send for BIOS PXE; PXE 2.1 §2.2.6).
          [Opt.VendorSpecific, encodeSubOptions([[PxeSub.DiscoveryControl, Buffer.from([8])]])],
          [Opt.TftpServerName, encodeString(server.address)],
        ],
      };
    case 'ipxe-script':
      return {
        // iPXE accepts a ProxyDHCP answer only with a non-zero siaddr *and* a filename
        // (dhcp_has_pxeopts() in src/net/udp/dhcp.c); in full mode it is the plain next-server.
        siaddr: server.address,
        file: spec.url,
        options: [
          [Opt.BootfileName, encodeString(spec.url)],
          // iPXE would otherwise wait ~2 s for ProxyDHCP offers (docs/boot-flow.md "Boot speed").
          ...(spec.skipProxyWait ? [[Opt.IpxeEncap, encodeSubOptions([[IpxeSubOpt.NoPxeDhcp, Buffer.from([1])]])] as [number, Buffer]] : []),
          // A proxy offer must say PXEClient or iPXE ignores it (PXE 2.1 §2.2.5).
          ...(spec.skipProxyWait ? [] : [[Opt.VendorClass, encodeString('PXEClient')] as [number, Buffer]]),
        ],
      };
    case 'rpi':
      return {
        siaddr: server.address,
        // Pi 3 ROMs bind on the OFFER and never send a REQUEST (docs/raspberry-pi.md §1).
        commitOnOffer: true,
        options: [
          [Opt.VendorClass, encodeString('PXEClient')],
          [Opt.VendorSpecific, piBootMenu(spec.padMenuString)],
          // Pi 4 firmware is reported to use option 66 when present; keep it equal to siaddr (§2).
          [Opt.TftpServerName, encodeString(server.address)],
        ],
      };
    case 'none':
      return undefined;
  }
}

/**
 * Option 43 for the Pi bootloader: the 32 bytes dnsmasq sends for
 * `pxe-service=0,"Raspberry Pi Boot"` (docs/raspberry-pi.md §1). The Pi 3B ROM compares a fixed length
 * and needs the description padded with three spaces.
 */
export function piBootMenu(pad: boolean): Buffer {
  const description = Buffer.from(pad ? 'Raspberry Pi Boot   ' : 'Raspberry Pi Boot', 'latin1');
  const menuEntry = Buffer.concat([Buffer.from([0, 0, description.length]), description]);
  return encodeSubOptions([
    [PxeSub.DiscoveryControl, Buffer.from([3])],
    [PxeSub.MenuPrompt, Buffer.from([0, ...Buffer.from('PXE', 'latin1')])],
    [PxeSub.BootMenu, menuEntry],
  ]);
}

