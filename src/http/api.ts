import type { RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import type { AppDeps } from './app.js';
import type { NodeRecord } from '../cluster/nodes.js';
import { enrollmentOf, type Admission } from '../boot/policy.js';
import { validateEnrollment, type EnrollmentInput } from '../cluster/enrollment.js';
import { BootfleetError } from '../errors.js';

/** A node as the admin API and `node list` show it: its record plus what the policy says of it. */
export interface NodeView extends NodeRecord {
  status: Admission;
  reason: string;
}

/** GET /api/nodes: every node the controller has seen, plus approved machines that have not booted yet. Admin. */
export function listNodes(deps: AppDeps): RequestHandler {
  return (_req, res) => {
    res.json({ nodes: nodeViews(deps) });
  };
}

export function nodeViews(deps: AppDeps): NodeView[] {
  const seen = deps.nodes.list().map((n): NodeView => {
    const spec = deps.spec(n);
    return { ...n, hostname: spec.hostname, status: spec.admission, reason: spec.reason };
  });
  const unseen = deps.enrollment.list()
    .filter((e) => !seen.some((n) => enrollmentOf(n, [e]) !== undefined || (e.mac !== undefined && n.mac === e.mac)))
    .map((e): NodeView => ({
      mac: e.mac ?? '-', firmware: e.serial ? 'rpi' : 'none', firstSeen: '-', lastSeen: '-', events: [],
      status: 'admitted', reason: 'approved, not booted yet',
      ...(e.serial ? { serial: e.serial } : {}), ...(e.hostname ? { hostname: e.hostname } : {}),
    }));
  return [...seen, ...unseen];
}

/** GET /api/nodes/:mac: one node, 404 if never seen. Admin. */
export function getNode(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const mac = normalizeMac(String(req.params['mac'] ?? ''));
    const view = nodeViews(deps).find((n) => n.mac === mac);
    if (!view) {
      res.status(404).json({ error: `no node with MAC ${String(req.params['mac'])}` });
      return;
    }
    res.json(view);
  };
}

/** POST /api/enrollment {mac?, serial?, model?, hostname?, image?}: approves a machine. Admin. */
export function addEnrollment(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const input: EnrollmentInput = {};
    for (const key of ['mac', 'serial', 'model', 'hostname', 'image'] as const) {
      if (body[key] !== undefined) input[key] = String(body[key]);
    }
    try {
      res.status(201).json(await deps.enrollment.add(validateEnrollment(input)));
    } catch (err) {
      if (!(err instanceof BootfleetError)) throw err;
      res.status(400).json({ error: err.message });
    }
  };
}

/** DELETE /api/nodes/:mac: forgets a node and withdraws its approval. Admin. */
export function forgetNode(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const mac = normalizeMac(String(req.params['mac'] ?? ''));
    if (!mac) {
      res.status(400).json({ error: `not a MAC address: ${String(req.params['mac'])}` });
      return;
    }
    const node = deps.nodes.get(mac);
    const approved = await deps.enrollment.remove(mac, node?.serial);
    const known = deps.nodes.forget(mac);
    if (!approved && !known) {
      res.status(404).json({ error: `no node with MAC ${mac}` });
      return;
    }
    res.status(204).end();
  };
}
