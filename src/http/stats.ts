import type { RequestHandler } from 'express';
import type { AppDeps } from './app.js';

/**
 * GET /api/stats: request and error rates per site and per node over the last 15 minutes, from
 * the managed balancer's counters (src/controller/balancer-history.ts), columnar for graphs:
 * `{resolutionSeconds, windowSeconds, t: [...], sites: {name: {requests, errors}}, nodes: {mac: …}}`.
 * Without a managed balancer the series are empty. Admin.
 */
export function stats(deps: AppDeps): RequestHandler {
  return (_req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(deps.balancerHistory?.() ?? { resolutionSeconds: 5, windowSeconds: 900, t: [], sites: {}, nodes: {} });
  };
}
