import type { RequestHandler } from 'express';
import type { AppDeps } from './app.js';

const KINDS = ['haproxy', 'nginx', 'apache', 'pen', 'keepalived'];

/**
 * GET /api/balancer/:kind — the balancer config rendered from the current placement
 * (`bootfleet balancer render --kind …`), as JSON `{files: [{path, text}]}`. Admin.
 */
export function balancerConfig(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const kind = String(req.params['kind'] ?? '');
    if (!KINDS.includes(kind)) {
      res.status(400).json({ error: `--kind ${kind}: one of ${KINDS.join(', ')}` });
      return;
    }
    if (!deps.renderBalancer) {
      res.status(409).json({ error: 'this controller has no balancer section in its config' });
      return;
    }
    res.json({ files: deps.renderBalancer(kind) });
  };
}
