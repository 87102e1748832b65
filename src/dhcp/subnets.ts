/**
 * Which subnet a client message is about (RFC 2131 §4.3.1, RFC 1542 §4): the server's own link,
 * or a subnet behind a DHCP relay agent. Pure: the server asks, the mode handler then leases
 * from that subnet's pool and sends that subnet's mask and router. docs/networks.md "Racks on
 * other subnets (DHCP relay)".
 */
import { inSubnet } from '../net/addr.js';

/** A subnet the server leases on; `T` carries what the caller keeps per subnet (its pool, router …). */
export interface Subnet {
  /** Any address of the subnet (its network address for a relayed one). */
  network: string;
  prefix: number;
}

export type SubnetChoice<T extends Subnet> =
  | { kind: 'local'; subnet: T }
  | { kind: 'relayed'; subnet: T }
  | { kind: 'unknown'; reason: string };

/**
 * RFC 2131 §4.3.1: "If the 'giaddr' field is non-zero, the server selects the address from the
 * subnet of giaddr" — giaddr is the relay agent's address on the client's subnet (RFC 1542 §4.1.1).
 * A relay on our own link (giaddr inside `local`) leases from the local pool, as before relays
 * were configured. With giaddr zero the message came on our link, except a RENEWING client
 * behind a relay: it unicasts straight to the server with its address in ciaddr (RFC 2131
 * §4.3.2, "no relay agents will be involved"), so a ciaddr inside a relayed subnet picks that
 * subnet. A giaddr inside no configured subnet is unknown: the caller drops the message.
 */
export function chooseSubnet<T extends Subnet>(
  packet: { giaddr: string; ciaddr: string },
  local: T,
  relayed: readonly T[],
): SubnetChoice<T> {
  const within = (ip: string): T | undefined => relayed.find((s) => inSubnet(ip, s.network, s.prefix));
  if (packet.giaddr !== '0.0.0.0') {
    if (inSubnet(packet.giaddr, local.network, local.prefix)) return { kind: 'local', subnet: local };
    const subnet = within(packet.giaddr);
    if (subnet) return { kind: 'relayed', subnet };
    return { kind: 'unknown', reason: `relay agent ${packet.giaddr} is on no subnet in dhcp.relays` };
  }
  if (packet.ciaddr !== '0.0.0.0' && !inSubnet(packet.ciaddr, local.network, local.prefix)) {
    const subnet = within(packet.ciaddr);
    if (subnet) return { kind: 'relayed', subnet };
  }
  return { kind: 'local', subnet: local };
}
