import type { RequestHandler } from 'express';
import { macParam } from './mac.js';
import { BOOT_STAGES, isBootStage, reportedAddress } from '../cluster/nodes.js';
import type { AppDeps } from './app.js';

/**
 * POST /api/nodes/:mac/events (form or JSON body `stage`, `detail`): a boot event reported by the
 * node itself (initramfs, rootfs-fetched, verified, verify-failed, switched, init-done …).
 * Unknown stages are refused with 400 naming the allowed ones; details are capped at 200 chars.
 * An `address` event (the node's DHCP server gave it a new address) also becomes the node's
 * `ip`; its detail must start with that address.
 */
export function postEvent(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const mac = macParam(req, res);
    if (!mac) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const stage = String(body['stage'] ?? '');
    if (!isBootStage(stage)) {
      res.status(400).type('text/plain').send(`unknown stage "${stage}": one of ${BOOT_STAGES.join(', ')}\n`);
      return;
    }
    const detail = String(body['detail'] ?? '').slice(0, 200);
    if (stage === 'address') {
      const ip = reportedAddress(detail);
      if (!ip) {
        res.status(400).type('text/plain').send(`stage "address" needs detail=<ipv4>[/<prefix>] …, got "${detail}"\n`);
        return;
      }
      deps.nodes.see(mac, { ip });
    }
    deps.nodes.record(mac, stage, detail || `from ${req.socket.remoteAddress ?? '?'}`);
    res.status(204).end();
  };
}
