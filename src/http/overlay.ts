import type { RequestHandler } from 'express';
import { macParam } from './mac.js';
import type { AppDeps } from './app.js';
import { debianArch } from './boot-info.js';

/**
 * GET /overlay/:mac[?arch=<uname -m>] — the node's own overlay (rendered for it at request time)
 * as a tar, for the build of that arch (boot info's overlay_url carries the arch the node reported).
 */
export function nodeOverlay(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const mac = macParam(req, res);
    if (!mac) return;
    const tar = await deps.nodeOverlay(mac, debianArch(String(req.query['arch'] ?? '')));
    res.type('application/x-tar').send(tar);
  };
}
