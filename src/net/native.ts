/**
 * Loads the bootfleet_net N-API addon (native/bootfleet_net.c, built by `node-gyp rebuild` at
 * `npm install`) that DHCP, TFTP and the RA responder share. The .node file lives at
 * <package root>/build/Release, and this module runs from src/net (tsx) or dist/src/net
 * (compiled), so the root is found by walking up to the nearest package.json instead of a fixed
 * relative path.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../pkg.js';
import { BootfleetError } from '../errors.js';

/** An open raw ICMPv6 socket (opaque to JS). */
export type Icmp6Handle = { readonly __brand: 'Icmp6Handle' };

/** The addon's functions; see native/bootfleet_net.c for the contract of each. */
export interface NativeNet {
  /** UDP socket on 0.0.0.0:port with SO_BINDTODEVICE(ifname) and SO_BROADCAST; returns the fd. */
  openUdp4(ifname: string, port: number): number;
  /** Raw ICMPv6 socket on `ifname` passing only `types`, joined to `groups`. */
  icmp6Open(
    ifname: string,
    types: readonly number[],
    groups: readonly string[],
    onMessage: (payload: Buffer, source: string, hopLimit: number, destination: string) => void,
  ): Icmp6Handle;
  /** Sends one ICMPv6 message; link-local destinations are scoped to the socket's interface. */
  icmp6Send(handle: Icmp6Handle, destination: string, payload: Buffer): number;
  icmp6Close(handle: Icmp6Handle): void;
  /** TFTP transfer socket bound to address:0, polled on the loop (native/tftp_fast.c). */
  tftpOpen(address: string, onMessage: (msg: Buffer, address: string, port: number) => void): { readonly __brand: 'TftpSocketHandle' };
  /** Synchronous sendto(); throws a NativeError. */
  tftpSend(handle: { readonly __brand: 'TftpSocketHandle' }, packet: Uint8Array, address: string, port: number): void;
  /** Arms the ACK→next-DATA fast path; `state` is [acked, sent, lastSendMs, nativeBlocks]. */
  tftpFastPath(
    handle: { readonly __brand: 'TftpSocketHandle' },
    clientAddress: string,
    clientPort: number,
    file: Uint8Array,
    blksize: number,
    windowsize: number,
    blocks: number,
    state: Float64Array,
    clockOriginMs: number,
  ): void;
  tftpClose(handle: { readonly __brand: 'TftpSocketHandle' }): void;
}

/** A system error thrown by the addon (same shape as Node's). */
export type NativeError = Error & { code?: string; syscall?: string };

let cached: NativeNet | undefined;

/** Returns the addon, loading it once. Throws ERR_INTERNAL naming the fix when it is not built. */
export function nativeNet(): NativeNet {
  if (cached) return cached;
  const file = join(packageRoot(), 'build', 'Release', 'bootfleet_net.node');
  if (!existsSync(file)) {
    throw new BootfleetError('ERR_INTERNAL', `native addon ${file} is missing: run \`npm install\` (or \`npx node-gyp rebuild\`) in ${packageRoot()}`);
  }
  cached = createRequire(import.meta.url)(file) as NativeNet;
  return cached;
}
