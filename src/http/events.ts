import type { RequestHandler } from 'express';
import { BOOT_STAGES, isBootStage } from '../cluster/nodes.js';
import type { AppDeps } from './app.js';
import { remoteAddress, routeNode } from './access.js';

/**
 * POST /api/nodes/:mac/events (form or JSON body `stage`, `detail`): a boot event reported by the
 * node itself (initramfs, rootfs-fetched, verified, verify-failed, switched, init-done …). Node
 * only. Unknown stages are refused with 400 naming the allowed ones; details are capped at 200 chars.
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
    deps.nodes.record(node.mac, stage, detail || `from ${remoteAddress(req)}`);
    res.status(204).end();
  };
}
