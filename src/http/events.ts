import type { RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import { isBootStage } from '../cluster/nodes.js';
import type { AppDeps } from './app.js';

/**
 * POST /api/nodes/:mac/events (form or JSON body `stage`, `detail`): a boot event reported by the
 * node itself (initramfs, rootfs-fetched, verified, verify-failed, switched, init-done …).
 * Unknown stages are refused with 400 naming the allowed ones; details are capped at 200 chars.
 */
export function postEvent(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const mac = normalizeMac(String(req.params['mac'] ?? ''));
    const body = (req.body ?? {}) as Record<string, unknown>;
    const stage = String(body['stage'] ?? '');
    if (!mac || !isBootStage(stage)) {
      res.status(400).type('text/plain').send(`need a MAC and a known stage, got mac=${String(req.params['mac'])} stage=${stage}\n`);
      return;
    }
    const detail = String(body['detail'] ?? '').slice(0, 200);
    deps.nodes.record(mac, stage, detail || `from ${req.socket.remoteAddress ?? '?'}`);
    res.status(204).end();
  };
}
