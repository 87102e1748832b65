import type { RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import type { AppDeps } from './app.js';
import { withEnrolled } from '../cluster/enrollment.js';

/** GET /api/nodes: every node the controller has seen, with its boot events. */
export function listNodes(deps: AppDeps): RequestHandler {
  return async (_req, res) => {
    res.json({ nodes: withEnrolled(deps.nodes.list(), await deps.enrolled()) });
  };
}

/** GET /api/nodes/:mac: one node, 404 if never seen. */
export function getNode(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const mac = normalizeMac(String(req.params['mac'] ?? ''));
    const node = mac ? deps.nodes.get(mac) : undefined;
    if (!node) {
      res.status(404).json({ error: `no node with MAC ${String(req.params['mac'])}` });
      return;
    }
    res.json(node);
  };
}
