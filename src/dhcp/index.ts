/** Public surface of the DHCP library: codec, options, lease pool, server. */
export * from './options.js';
export { decodePacket, encodePacket, packetMac, DhcpDecodeError, BootOp, BROADCAST_FLAG, MAGIC_COOKIE, MIN_PACKET, type DhcpPacket } from './packet.js';
export { LeasePool, type Lease, type LeaseState, type LeasePoolOptions } from './leases.js';
export { DhcpServer, maskToPrefix, type DhcpServerOptions } from './server.js';
export { openInterfaceSocket } from './socket.js';
export { isPxeClient } from './request-info.js';
export type { BootAnswer, BootHook, DhcpEvent, DhcpEventType, DhcpRequestInfo, DhcpStats } from './types.js';
