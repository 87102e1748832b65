import type { RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import type { AppDeps } from './app.js';

/** GET /overlay/:mac — the node's own overlay (rendered for it at request time) as a tar. */
export function nodeOverlay(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const mac = normalizeMac(String(req.params['mac'] ?? ''));
    if (!mac) {
      res.status(400).type('text/plain').send('bad MAC address\n');
      return;
    }
    const tar = await deps.nodeOverlay(mac);
    res.type('application/x-tar').send(tar);
  };
}
