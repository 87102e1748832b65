import type { RequestHandler } from 'express';
import { macParam } from './mac.js';
import type { AppDeps } from './app.js';

/** GET /overlay/:mac — the node's own overlay (rendered for it at request time) as a tar. */
export function nodeOverlay(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const mac = macParam(req, res);
    if (!mac) return;
    const tar = await deps.nodeOverlay(mac);
    res.type('application/x-tar').send(tar);
  };
}
