import type { RequestHandler } from 'express';

/** Each service and whether it is listening. */
export type HealthProbe = () => Record<string, boolean>;

/** GET /healthz: 200 once every service listens, else 503 with the ones that do not. */
export function healthz(deps: { health: HealthProbe }): RequestHandler {
  return (_req, res) => {
    const services = deps.health();
    const ok = Object.values(services).every(Boolean);
    res.status(ok ? 200 : 503).json({ ok, services });
  };
}
