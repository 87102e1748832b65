import type { Config } from '../config.js';
import type { NodeRegistry } from '../cluster/nodes.js';
import type { Logger } from '../log.js';
import { decideBoot, type BootPolicy } from '../boot/decide.js';
import { classifyFirmware, piModel, type BootClient } from '../boot/firmware.js';
import { dhcpAnswerFor, type DhcpBootFields } from './dhcp-answer.js';
import { isPiPath } from './tftp-routes.js';
import type { DhcpRequestInfo } from '../dhcp/types.js';
import { piAdmission } from '../boot/admission.js';

/**
 * The controller's memory of each boot in progress, and the glue from DHCP/TFTP/HTTP happenings
 * to the one boot decision. The only state the decision needs beyond the packet is whether a
 * chainloading node already runs our iPXE (it fetched the binary and has not yet fetched its
 * script), kept here per MAC.
 */
export class BootGlue {
  private readonly runningOurIpxe = new Set<string>();
  private readonly chainload: Set<string>;
  private readonly ipxeFiles: Set<string>;

  constructor(
    private readonly config: Config,
    private readonly policy: BootPolicy,
    private readonly nodes: NodeRegistry,
    private readonly log: Logger,
  ) {
    this.chainload = new Set(config.nodes.filter((n) => n.chainloadIpxe).map((n) => n.mac));
    this.ipxeFiles = new Set(Object.values(config.boot.ipxe));
  }

  /** DHCP hook: decide, record, and return the fields to add (or undefined). */
  dhcpAnswer(ask: DhcpRequestInfo): DhcpBootFields | undefined {
    const client: BootClient = {
      mac: ask.mac,
      arch: ask.clientArch,
      vendorClass: ask.vendorClass,
      userClasses: ask.userClass ?? [],
      clientUuid: ask.clientUuid,
    };
    const ciaddr = ask.packet.ciaddr;
    const firmware = classifyFirmware(client);
    const spec = decideBoot(client, { chainloadIpxe: this.chainload.has(ask.mac), loadedOurIpxe: this.runningOurIpxe.has(ask.mac) }, this.policy);
    if (firmware !== 'none') {
      this.nodes.see(ask.mac, { firmware, model: piModel(client), ip: ciaddr !== '0.0.0.0' ? ciaddr : undefined });
      this.nodes.record(ask.mac, 'dhcp', `${ask.messageType} from ${firmware}: ${spec.kind === 'none' ? spec.reason : spec.kind}`);
    }
    this.log.debug({ mac: ask.mac, firmware, spec }, 'boot decision');
    return dhcpAnswerFor(spec, { address: this.config.controller.address });
  }

  /** An address was bound or offered to a MAC: remember it so TFTP requests map to nodes. */
  addressOf(mac: string, ip: string): void {
    if (this.nodes.get(mac)) this.nodes.see(mac, { ip });
  }

  /** A TFTP transfer finished: a boot event, and possibly "now running our iPXE". */
  tftpComplete(clientIp: string, path: string): void {
    if (isPiPath(path)) return; // recorded by piRequest, with the serial
    const node = this.nodes.findBy((n) => n.ip === clientIp);
    if (!node) return;
    this.nodes.record(node.mac, 'tftp', path);
    if (this.ipxeFiles.has(path.replace(/^\/+/, ''))) this.runningOurIpxe.add(node.mac);
  }

  /** A Pi asked for a file under its prefix: learn its serial, record the event. */
  piRequest(prefix: string, clientIp: string, file: string): void {
    const mac = this.piNode(prefix, clientIp);
    if (!mac) return;
    if (/^[0-9a-f]{8}$/.test(prefix) && this.nodes.get(mac)?.serial !== prefix) this.nodes.see(mac, { serial: prefix });
    this.nodes.record(mac, 'tftp', `${prefix}/${file}`);
  }

  /**
   * Whether the machine behind a TFTP request may boot: non-Pis always; a Pi when enrolled by
   * serial or MAC (piAdmission). Records the Pi's status for `node list`.
   */
  async admit(prefix: string, clientIp: string, enrolled: ReadonlyArray<{ serial: string; mac?: string }>): Promise<boolean> {
    const mac = this.piNode(prefix, clientIp);
    const node = mac ? this.nodes.get(mac) : undefined;
    if (!node || node.firmware !== 'rpi') return true;
    const status = piAdmission({ ...(node.serial ? { serial: node.serial } : {}), mac: node.mac }, enrolled);
    if (node.status !== status) this.nodes.see(node.mac, { status });
    return status === 'approved';
  }

  /** The node a Pi TFTP request comes from: by its serial prefix, else by its address. */
  piNode(prefix: string, clientIp: string): string | undefined {
    return (this.nodes.findBy((n) => n.serial === prefix) ?? this.nodes.findBy((n) => n.ip === clientIp))?.mac;
  }

  /** The node fetched its iPXE script: the next firmware DHCP starts a new boot. */
  scriptServed(mac: string): void {
    this.runningOurIpxe.delete(mac);
  }
}
