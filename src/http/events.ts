import type { RequestHandler } from 'express';
import { BOOT_STAGES, isBootStage, reportedAddress } from '../cluster/nodes.js';
import type { AppDeps } from './app.js';
import { remoteAddress, routeNode } from './access.js';

/**
 * POST /api/nodes/:mac/events (form or JSON body `stage`, `detail`): a boot event reported by the
 * node itself (initramfs, rootfs-fetched, verified, verify-failed, switched, init-done …). Node
 * only. Unknown stages are refused with 400 naming the allowed ones; details are capped at 200
 * chars. An `address` event (its DHCP server gave it a new address) must come from that address
 * and start with it; the controller saw the new lease already (our ACK, or in proxy mode the
 * node's own REQUEST), so the event confirms what node routes are bound to.
 */
export function postEvent(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const node = routeNode(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const stage = String(body['stage'] ?? '');
    if (!isBootStage(stage)) {
      res.status(400).type('text/plain').send(`unknown stage "${stage}": one of ${BOOT_STAGES.join(', ')}\n`);
      return;
    }
    const detail = String(body['detail'] ?? '').slice(0, 200);
    if (stage === 'address') {
      const ip = reportedAddress(detail);
      if (!ip || ip !== remoteAddress(req)) {
        res.status(400).type('text/plain').send(`stage "address" needs detail=<ipv4>[/<prefix>] …, sent from that address; got "${detail}" from ${remoteAddress(req)}\n`);
        return;
      }
      deps.nodes.update(node.mac, { ip });
    }
    deps.nodes.record(node.mac, stage, detail || `from ${remoteAddress(req)}`);
    res.status(204).end();
  };
}
