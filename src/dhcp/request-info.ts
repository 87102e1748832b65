/** Turns a decoded client packet into the fields the boot hook and the mode handlers use. */
import { Opt, decodeClientArch, decodeString, decodeUserClass, messageTypeName, decodeU8 } from './options.js';
import { packetMac, type DhcpPacket } from './packet.js';
import type { DhcpRequestInfo } from './types.js';

/**
 * Returns the request info, or undefined when the packet is not a DHCP client message
 * (a BOOTREPLY, a plain BOOTP request without option 53, or an unknown message type).
 */
export function requestInfo(packet: DhcpPacket, port: number, source: { address: string; port: number }): DhcpRequestInfo | undefined {
  if (packet.op !== 1) return undefined;
  const typeCode = decodeU8(packet.options.get(Opt.MessageType));
  const messageType = typeCode === undefined ? undefined : messageTypeName(typeCode);
  if (messageType === undefined) return undefined;
  return {
    packet,
    mac: packetMac(packet),
    messageType,
    clientArch: decodeClientArch(packet.options.get(Opt.ClientArch)),
    vendorClass: decodeString(packet.options.get(Opt.VendorClass)),
    userClass: decodeUserClass(packet.options.get(Opt.UserClass)),
    clientUuid: packet.options.get(Opt.ClientUuid),
    hostname: decodeString(packet.options.get(Opt.Hostname)),
    relayed: packet.giaddr !== '0.0.0.0',
    port,
    source,
  };
}

/** PXE 2.1 §2.2.1: PXE clients put "PXEClient" at the start of option 60. */
export function isPxeClient(info: DhcpRequestInfo): boolean {
  return info.vendorClass?.startsWith('PXEClient') ?? false;
}
