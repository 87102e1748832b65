import type { RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import type { AppDeps } from './app.js';
import type { NodeRecord } from '../cluster/nodes.js';
import { enrollmentOf, type Admission } from '../boot/policy.js';
import { validateEnrollment, type EnrollmentInput } from '../cluster/enrollment.js';
import { BootfleetError } from '../errors.js';
import { answering } from './sites.js';
import { DEFAULT_NODE_SETTINGS, type NodeSettings } from '../cluster/model.js';
import { nodeState, type NodeState } from '../cluster/node-state.js';

/** A node as the admin API and `node list` show it: its record plus what the policy says of it. */
export interface NodeView extends NodeRecord {
  status: Admission;
  reason: string;
  /** booting, ready, draining, down or maintenance (src/cluster/node-state.ts). */
  state: NodeState;
  settings: NodeSettings;
  /** Sites placed on it. */
  sites: string[];
}

/** GET /api/nodes: every node the controller has seen, plus approved machines that have not booted yet. Admin. */
export function listNodes(deps: AppDeps): RequestHandler {
  return (_req, res) => {
    res.json({ nodes: nodeViews(deps) });
  };
}

export function nodeViews(deps: AppDeps): NodeView[] {
  const state = deps.cluster.current;
  const now = Date.now();
  const placed = (mac: string): string[] => Object.entries(state.placement).filter(([, macs]) => macs.includes(mac)).map(([site]) => site).sort();
  const seen = deps.nodes.list().map((n): NodeView => {
    const spec = deps.spec(n);
    const settings = state.nodes[n.mac] ?? DEFAULT_NODE_SETTINGS;
    return {
      ...n, hostname: spec.hostname, status: spec.admission, reason: spec.reason, settings, sites: placed(n.mac),
      state: nodeState(settings, n, now, deps.downAfterMs),
    };
  });
  const unseen = deps.cluster.list()
    .filter((e) => !seen.some((n) => enrollmentOf(n, [e]) !== undefined || (e.mac !== undefined && n.mac === e.mac)))
    .map((e): NodeView => ({
      mac: e.mac ?? '-', firmware: e.serial ? 'rpi' : 'none', firstSeen: '-', lastSeen: '-', events: [],
      status: 'admitted', reason: 'approved, not booted yet', state: 'down', settings: DEFAULT_NODE_SETTINGS, sites: [],
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
      res.status(201).json(await deps.cluster.add(validateEnrollment(input)));
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
    const approved = await deps.cluster.remove(mac, node?.serial);
    const known = deps.nodes.forget(mac);
    if (!approved && !known) {
      res.status(404).json({ error: `no node with MAC ${mac}` });
      return;
    }
    res.status(204).end();
  };
}

/** POST /api/nodes/:mac/approve — approves a pending machine by its MAC (`bootfleet node approve`). Admin. */
export function approveNode(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const mac = macOf(req.params['mac']);
    const node = deps.nodes.get(mac);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const entry = validateEnrollment({
      mac,
      ...(node?.serial ? { serial: node.serial } : {}),
      ...(body['hostname'] !== undefined ? { hostname: String(body['hostname']) } : {}),
      ...(body['image'] !== undefined ? { image: String(body['image']) } : {}),
    });
    res.status(201).json(await deps.cluster.add(entry));
  });
}

/**
 * POST /api/nodes/:mac/settings {admin?: active|drain|maintenance, weight?, labels?} —
 * `node drain|undrain|maintenance` and capacity. Admin.
 */
export function nodeSettings(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const mac = macOf(req.params['mac']);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const problems: string[] = [];
    const admin = body['admin'];
    if (admin !== undefined && admin !== 'active' && admin !== 'drain' && admin !== 'maintenance') problems.push(`admin ${String(admin)}: active, drain or maintenance`);
    const weight = body['weight'] === undefined ? undefined : Number(body['weight']);
    if (weight !== undefined && !(Number.isFinite(weight) && weight > 0 && weight <= 1000)) problems.push(`--weight ${String(body['weight'])}: a number above 0, up to 1000`);
    const labels = body['labels'];
    if (labels !== undefined && (typeof labels !== 'object' || labels === null || Object.entries(labels).some(([k, v]) => !/^[a-z0-9][a-z0-9._/-]{0,62}$/i.test(k) || typeof v !== 'string' || v.length > 63))) {
      problems.push('--label: key=value pairs, keys of letters, digits, ".", "_", "/", "-"');
    }
    if (problems.length > 0) throw new BootfleetError('ERR_USAGE', problems.join('; '));
    if (!deps.nodes.get(mac) && !deps.cluster.list().some((e) => e.mac === mac)) throw new BootfleetError('ERR_NOT_FOUND', `no node ${mac} (bootfleet node list)`);
    const state = await deps.cluster.change((s) => {
      const cur = s.nodes[mac] ?? { ...DEFAULT_NODE_SETTINGS };
      s.nodes[mac] = {
        weight: weight ?? cur.weight,
        labels: (labels as Record<string, string> | undefined) ?? cur.labels,
        admin: (admin as NodeSettings['admin'] | undefined) ?? cur.admin,
      };
    });
    res.json(state.nodes[mac]);
  });
}

/** POST /api/nodes/:mac/reboot — the node agent reboots it (its manifest's reboot token changes). Admin. */
export function rebootNode(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const mac = macOf(req.params['mac']);
    if (!deps.nodes.get(mac)) throw new BootfleetError('ERR_NOT_FOUND', `no node ${mac} (bootfleet node list)`);
    res.status(202).json({ token: await deps.cluster.requestReboot(mac) });
  });
}

function macOf(raw: unknown): string {
  const mac = normalizeMac(String(raw ?? ''));
  if (!mac) throw new BootfleetError('ERR_USAGE', `not a MAC address: ${String(raw)}`);
  return mac;
}
