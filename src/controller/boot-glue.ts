import type { NodeRecord, NodeRegistry } from '../cluster/nodes.js';
import type { Logger } from '../log.js';
import { dhcpBoot, type DhcpContext } from '../boot/decide.js';
import { classifyFirmware, initramfsClient, piModel, type BootClient } from '../boot/firmware.js';
import { machineSpec, type MachineSpec, type PolicyContext } from '../boot/policy.js';
import type { DebArch } from '../images/apt-config.js';
import { dhcpAnswerFor, type DhcpBootFields } from './dhcp-answer.js';
import type { DhcpRequestInfo } from '../dhcp/types.js';

/** A Pi's TFTP folder: its serial (TFTP_PREFIX=0) or its MAC written with dashes (TFTP_PREFIX=2). */
const SERIAL_PREFIX = /^[0-9a-f]{8}$/;
const MAC_PREFIX = /^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/;

/**
 * The glue from protocol happenings to the one boot policy (src/boot/policy.ts): it turns a DHCP
 * packet, a TFTP request or an HTTP request into the machine it comes from, asks the policy for
 * that machine's spec, and records what happened. It decides nothing itself.
 */
export class BootGlue {
  constructor(
    private readonly nodes: NodeRegistry,
    private readonly policy: () => PolicyContext,
    private readonly dhcp: DhcpContext & { serverAddress: string },
    private readonly log: Logger,
  ) {}

  /** The spec of a known node (`arch`: what its initramfs reports in this request, else what it reported before). */
  spec(node: NodeRecord, arch?: DebArch): MachineSpec {
    const cpu = arch ?? node.arch;
    return machineSpec({ mac: node.mac, firmware: node.firmware, ...(node.serial ? { serial: node.serial } : {}), ...(cpu ? { arch: cpu } : {}) }, this.policy());
  }

  /** DHCP hook: record the machine, ask the policy, and return the fields to add (or undefined). */
  dhcpAnswer(ask: DhcpRequestInfo): DhcpBootFields | undefined {
    const client: BootClient = { mac: ask.mac, arch: ask.clientArch, vendorClass: ask.vendorClass, userClasses: ask.userClass ?? [], clientUuid: ask.clientUuid };
    const firmware = classifyFirmware(client);
    if (firmware === 'none') return undefined; // a plain DHCP client: an address, nothing of ours
    const node = this.observe(ask.mac, client);
    if (!node) return undefined; // the registry is full: boot nothing for a machine we cannot track
    const spec = this.spec(node);
    const boot = dhcpBoot(client, spec, { loadedOurIpxe: loadedOurIpxe(node, spec) }, this.dhcp);
    this.nodes.record(ask.mac, 'dhcp', `${ask.messageType} from ${firmware}${client.userClasses.includes('iPXE') ? ' (iPXE)' : ''}: ${boot.kind === 'none' ? boot.reason : boot.kind}`);
    this.log.debug({ mac: ask.mac, firmware, admission: spec.admission, boot }, 'boot decision');
    return dhcpAnswerFor(boot, { address: this.dhcp.serverAddress });
  }

  /**
   * Records the machine behind a DHCP message. Our own initramfs (option 60) adds the CPU it runs
   * on, and names the kind only of a machine not seen before: a PXE-booted node stays `bios`,
   * `efi-x64` … when its initramfs asks for the lease again.
   */
  observe(mac: string, client: Pick<BootClient, 'vendorClass' | 'userClasses' | 'arch' | 'clientUuid' | 'mac'>): NodeRecord | undefined {
    const initramfs = initramfsClient(client);
    const known = this.nodes.get(mac);
    const keepKind = initramfs !== undefined && known !== undefined && known.firmware !== 'none';
    return this.nodes.observe(mac, {
      ...(keepKind ? {} : { firmware: classifyFirmware(client), model: piModel(client) }),
      ...(initramfs ? { arch: initramfs.arch } : {}),
    });
  }

  /** DHCP bound (or saw a client take) this address: node routes and TFTP now map it to the node. */
  addressOf(mac: string, ip: string): void {
    this.nodes.update(mac, { ip });
  }

  /**
   * The node behind a TFTP request: the one holding the client's address (seen through DHCP).
   * Under a Pi prefix the folder must be that node's own: its MAC, or a serial nobody else owns
   * (learned on first use). Anything else is refused with the reason.
   */
  tftpNode(clientIp: string, prefix: string | undefined): NodeRecord | { refused: string } {
    const node = this.nodes.byAddress(clientIp);
    if (!node) return { refused: `no node holds ${clientIp} (not seen through DHCP)` };
    if (prefix === undefined) return node;
    if (MAC_PREFIX.test(prefix)) {
      return prefix.replaceAll('-', ':') === node.mac ? node : { refused: `${clientIp} is ${node.mac}, not ${prefix}` };
    }
    if (!SERIAL_PREFIX.test(prefix)) return { refused: `${prefix} is not a Pi prefix` };
    const owner = this.nodes.findBy((n) => n.serial === prefix);
    if (owner && owner.mac !== node.mac) return { refused: `serial ${prefix} belongs to ${owner.mac}, not ${node.mac}` };
    if (!owner && node.firmware === 'rpi' && node.serial === undefined) return this.nodes.update(node.mac, { serial: prefix }) ?? node;
    return node.serial === prefix ? node : { refused: `${node.mac} asks under ${prefix} but its serial is ${node.serial ?? 'unknown'}` };
  }

  /** A TFTP transfer finished: a boot event of the node at that address. */
  tftpComplete(clientIp: string, path: string): void {
    const node = this.nodes.byAddress(clientIp);
    if (node) this.nodes.record(node.mac, 'tftp', path.replace(/^\/+/, ''));
  }
}

/**
 * Whether the node runs our iPXE now: it fetched its loader over TFTP after it last fetched an
 * iPXE script. Derived from the boot timeline, so no per-boot memory has to be kept or lost.
 */
function loadedOurIpxe(node: NodeRecord, spec: MachineSpec): boolean {
  for (let i = node.events.length - 1; i >= 0; i--) {
    const e = node.events[i];
    if (e?.stage === 'ipxe-script') return false;
    if (e?.stage === 'tftp' && e.detail === spec.loader) return true;
  }
  return false;
}
