import type { RequestHandler } from 'express';
import type { AppDeps } from './app.js';
import { routeNode } from './access.js';

/** GET /overlay/:mac — the node's own overlay (rendered for it at request time) as a tar. Node only. */
export function nodeOverlay(deps: AppDeps): RequestHandler {
  return async (_req, res) => {
    const spec = deps.spec(routeNode(res));
    if (spec.admission !== 'admitted') {
      res.status(403).type('text/plain').send(`${spec.mac} is ${spec.admission}: ${spec.reason}\n`);
      return;
    }
    res.type('application/x-tar').set('Cache-Control', 'no-store').send(await deps.nodeOverlay(spec));
  };
}
