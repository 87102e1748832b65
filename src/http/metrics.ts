import type { Request, RequestHandler, Response, NextFunction } from 'express';
import type { Access } from './access.js';

/** What the HTTP app needs of the controller's metrics (src/metrics/metrics.ts ControllerMetrics). */
export interface HttpMetrics {
  render: () => Promise<{ contentType: string; text: string }>;
  httpRequest: (method: string, route: string, status: number) => void;
  /** `metrics.requireToken` of the config: /metrics needs the admin token. */
  requireToken: boolean;
}

/**
 * Who may read /metrics: by default anyone who reaches a listener, like /healthz; the figures are
 * counts and durations only (docs/metrics.md). `metrics.requireToken: true` makes it an admin route.
 * The route table takes its access from here, so the table itself says which one is in force.
 */
export function metricsAccess(metrics: HttpMetrics | undefined): Access {
  return metrics?.requireToken ? 'admin' : 'public';
}

/** GET /metrics: the Prometheus text exposition format. */
export function metricsRoute(metrics: HttpMetrics | undefined): RequestHandler {
  return async (_req: Request, res: Response) => {
    if (!metrics) {
      res.status(404).type('text/plain').send('metrics are not collected by this server\n');
      return;
    }
    const { contentType, text } = await metrics.render();
    res.set('content-type', contentType).send(text);
  };
}

/**
 * Counts every answered request by the route pattern it matched (`/api/nodes/:mac`, never the
 * raw path, so label values stay bounded), or `unmatched` (404s and refusals before routing).
 */
export function countRequests(metrics: HttpMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      metrics.httpRequest(req.method, typeof route === 'string' ? route : 'unmatched', res.statusCode);
    });
    next();
  };
}
