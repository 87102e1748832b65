/** The DHCP server's contract with its owner: what the boot hook sees and answers, and events. */
import type { DhcpPacket } from './packet.js';
import type { MessageTypeName } from './options.js';

/** One client message as the boot hook sees it: the packet plus the fields boot policy uses. */
export interface DhcpRequestInfo {
  packet: DhcpPacket;
  /** Lowercase colon MAC from chaddr. */
  mac: string;
  messageType: MessageTypeName;
  /** Option 93 (RFC 4578 §2.1): 0 = BIOS, 6 = EFI IA32, 7/9 = EFI x64, 11 = EFI arm64, ... */
  clientArch: number | undefined;
  /** Option 60, e.g. "PXEClient:Arch:00000:UNDI:002001". */
  vendorClass: string | undefined;
  /** Option 77 (RFC 3004 list, or iPXE's bare "iPXE" as a one-element list). */
  userClass: string[] | undefined;
  /** Option 97 raw (RFC 4578 §2.3: type byte 0 + 16-byte UUID; Pi 4: "RPi4" + revision + ...). */
  clientUuid: Buffer | undefined;
  /** Option 12. */
  hostname: string | undefined;
  /** giaddr != 0.0.0.0: came through a relay agent. */
  relayed: boolean;
  /** The server port it arrived on: 67, or 4011 for PXE 2.1 boot-server REQUESTs in proxy mode. */
  port: number;
  /** The UDP source. */
  source: { address: string; port: number };
}

/**
 * Boot information merged into the reply. The hook owns all boot policy: option 60
 * "PXEClient", option 43 (PXE/Pi menu), 66, 67, 175 (iPXE) go in `options`; they override any
 * option of the same code the server would send.
 */
export interface BootAnswer {
  /** Next-server address (siaddr); TFTP host. */
  siaddr?: string;
  /** BOOTP `file` field (max 127 bytes). */
  file?: string;
  /** BOOTP `sname` field (max 63 bytes). */
  sname?: string;
  options?: Array<[number, Buffer]>;
  /**
   * Bind the lease when sending the OFFER: the Pi 3B ROM never sends a REQUEST and boots on the
   * OFFER alone (docs/raspberry-pi.md §1). Full mode only.
   */
  commitOnOffer?: boolean;
}

/**
 * Called for every DISCOVER, REQUEST and INFORM the server is about to answer (several times per
 * boot). Returns the boot information, or undefined for "no boot info for this client": full
 * mode still serves the address; proxy mode stays silent. Must be fast and synchronous; a throw
 * drops that one packet.
 */
export type BootHook = (req: DhcpRequestInfo) => BootAnswer | undefined;

export type DhcpEventType = 'discover' | 'offer' | 'request' | 'ack' | 'nak' | 'release' | 'decline' | 'inform';

/** Emitted for each client message received and each reply sent. */
export interface DhcpEvent {
  mac: string;
  type: DhcpEventType;
  /** The address concerned (offered, acknowledged, released, declined), if any. */
  ip?: string;
  xid: number;
  /** Option 60 of a client message, if it had one (proxy mode sees non-PXE clients only here). */
  vendorClass?: string;
}

/** Counters since start(). */
export interface DhcpStats {
  /** Datagrams received on any of the server's sockets. */
  received: number;
  /** Datagrams that failed to decode (DhcpDecodeError). */
  malformed: number;
  /** Well-formed messages deliberately not answered (not for us, no address, bad relay, hook threw, ...). */
  dropped: number;
  /** Replies sent. */
  replied: number;
}

/** What a mode handler decided for one message. */
export type Outcome =
  | { kind: 'reply'; type: 'offer' | 'ack' | 'nak'; packet: DhcpPacket; ip?: string }
  /** Handled with no reply due (RELEASE, DECLINE). */
  | { kind: 'done' }
  | { kind: 'drop'; reason: string };
