/**
 * UDP sockets restricted to one interface. Safety rule (README, "Using it on a real network"): a
 * DHCP server that answers on the wrong network breaks real networks, so every DHCP socket is
 * bound with SO_BINDTODEVICE before it is bound to a port; it then neither receives from nor
 * sends to any other interface, broadcasts included.
 */
import dgram from 'node:dgram';
import { BootfleetError } from '../errors.js';
import { nativeNet, type NativeError } from '../net/native.js';

/**
 * Opens a udp4 socket on 0.0.0.0:`port` pinned to `ifname`, with SO_BROADCAST, ready to receive.
 * The fd is created by the addon (device binding before bind(), no window where other
 * interfaces' packets queue up) and wrapped with dgram's bind({ fd }). Throws
 * BootfleetError('ERR_BIND_FAILED') naming the interface and port.
 */
export async function openInterfaceSocket(ifname: string, port: number): Promise<dgram.Socket> {
  let fd: number;
  try {
    fd = nativeNet().openUdp4(ifname, port);
  } catch (err) {
    throw bindError(ifname, port, err as NativeError);
  }
  const socket = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ fd }, () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    socket.close();
    throw new BootfleetError('ERR_BIND_FAILED', `cannot use the socket for ${ifname}:${port}: ${String(err)}`, { cause: err });
  });
  return socket;
}

function bindError(ifname: string, port: number, err: NativeError): BootfleetError {
  const where = `UDP port ${port} on interface ${ifname}`;
  switch (err.code) {
    case 'ENODEV':
      return new BootfleetError('ERR_BIND_FAILED', `interface ${ifname} does not exist: set controller.interface to an existing interface`, { cause: err });
    case 'EADDRINUSE':
      return new BootfleetError('ERR_BIND_FAILED', `${where} is already in use (another DHCP server such as dnsmasq?)`, { cause: err });
    case 'EPERM':
    case 'EACCES':
      return new BootfleetError('ERR_BIND_FAILED', `not allowed to open ${where}: run as root or grant CAP_NET_RAW and CAP_NET_BIND_SERVICE`, { cause: err });
    default:
      return new BootfleetError('ERR_BIND_FAILED', `cannot open ${where}: ${err.message}`, { cause: err });
  }
}

/** Sends and resolves when the datagram has been handed to the kernel. */
export function sendTo(socket: dgram.Socket, data: Buffer, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(data, port, address, (err) => (err ? reject(err) : resolve()));
  });
}
