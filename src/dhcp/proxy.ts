/**
 * ProxyDHCP (PXE 2.1 §2.2.3–2.2.5): another server hands out addresses; we only add boot
 * information for PXE clients. Replies never carry yiaddr or a lease time, so they cannot
 * acknowledge, refuse or compete with the real server's leases.
 */
import { Opt, decodeIp } from './options.js';
import { buildReply, type NetParams } from './reply.js';
import { isPxeClient } from './request-info.js';
import type { BootAnswer, DhcpRequestInfo, Outcome } from './types.js';

export interface ProxyContext {
  net: NetParams;
  boot: (req: DhcpRequestInfo) => BootAnswer | undefined;
  proxyPort: number;
}

/**
 * - port 67 DISCOVER from a PXE client → proxy OFFER with the boot info;
 * - port 67 REQUEST that names our server id → proxy ACK (a REQUEST naming another server, or
 *   none, is the real server's exchange: silence);
 * - port 4011 REQUEST/INFORM → ACK, sent back to the UDP source (the server decides that).
 * Everything else, and every non-PXE client, is dropped.
 */
export function handleProxy(req: DhcpRequestInfo, ctx: ProxyContext): Outcome {
  if (!isPxeClient(req)) return { kind: 'drop', reason: 'not a PXE client (option 60)' };
  const onBootPort = req.port === ctx.proxyPort;
  let type: 'offer' | 'ack';
  if (!onBootPort && req.messageType === 'discover') {
    type = 'offer';
  } else if (!onBootPort && req.messageType === 'request') {
    const serverId = decodeIp(req.packet.options.get(Opt.ServerId));
    if (serverId !== ctx.net.serverAddress) return { kind: 'drop', reason: `REQUEST for server ${serverId ?? '(none)'}` };
    type = 'ack';
  } else if (onBootPort && (req.messageType === 'request' || req.messageType === 'inform')) {
    type = 'ack';
  } else {
    return { kind: 'drop', reason: `${req.messageType} on port ${req.port} in proxy mode` };
  }
  const answer = withUuidEcho(req, ctx.boot(req));
  if (!answer) return { kind: 'drop', reason: 'boot hook has nothing for this client' };
  return { kind: 'reply', type, packet: buildReply(req, type, ctx.net, { answer }) };
}

/**
 * PXE 2.1 table 2-1 lists the client UUID (97) in the proxy offer; dnsmasq echoes it too and some
 * ROMs match offers on it. Echo it unless the hook set its own.
 */
function withUuidEcho(req: DhcpRequestInfo, answer: BootAnswer | undefined): BootAnswer | undefined {
  if (!answer || !req.clientUuid) return answer;
  const options = answer.options ?? [];
  if (options.some(([code]) => code === Opt.ClientUuid)) return answer;
  return { ...answer, options: [...options, [Opt.ClientUuid, req.clientUuid]] };
}
