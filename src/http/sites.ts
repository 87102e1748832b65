import type { Request, RequestHandler, Response } from 'express';
import type { AppDeps } from './app.js';
import { BootfleetError, type ErrorCode } from '../errors.js';
import { normalizeMac } from '../net/addr.js';
import { scaleSite, validateSite, type SiteInput } from '../cluster/sites.js';
import { checkContentTar, MAX_CONTENT_BYTES } from '../cluster/content.js';
import type { Site } from '../cluster/model.js';

/** A site as the admin API shows it: its definition, where it runs, and what the balancer sees. */
export interface SiteView extends Site {
  nodes: string[];
  retiring: string[];
  /** From the balancer, when one runs: requests per second and health per node. */
  stats?: { rate: number; servers: Array<{ node: string; status: string }> };
}

/** GET /api/sites. Admin. */
export function listSites(deps: AppDeps): RequestHandler {
  return (_req, res) => {
    res.json({ generation: deps.cluster.current.generation, sites: siteViews(deps) });
  };
}

export function siteViews(deps: AppDeps): SiteView[] {
  const state = deps.cluster.current;
  return Object.values(state.sites).sort((a, b) => a.name.localeCompare(b.name)).map((s) => {
    const stats = deps.siteStats?.(s.name);
    return { ...s, nodes: state.placement[s.name] ?? [], retiring: state.retiring[s.name] ?? [], ...(stats ? { stats } : {}) };
  });
}

/** POST /api/sites {name, domains, weight?, minReplicas?, maxReplicas?, capacity?, health?, affinity?}. Admin. */
export function addSite(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const input = (req.body ?? {}) as SiteInput;
    let added: Site | undefined;
    await deps.cluster.change((s) => {
      added = validateSite(input, s);
      s.sites[added.name] = added;
    });
    res.status(201).json(added);
  });
}

/** DELETE /api/sites/:name — gone from every node and from the balancer. Admin. */
export function removeSite(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const name = String(req.params['name'] ?? '');
    await deps.cluster.change((s) => {
      if (!s.sites[name]) throw new BootfleetError('ERR_NOT_FOUND', `no site ${name} (bootfleet site list)`);
      delete s.sites[name];
      delete s.placement[name];
      delete s.retiring[name];
    });
    await deps.content.remove(name);
    res.status(204).end();
  });
}

/**
 * PUT /api/sites/:name/content (body: a tar, application/x-tar) — a new content version: checked
 * (files and folders only, no escaping names, size limit), stored content-addressed, then
 * served to the site's nodes. A refused tar changes nothing. Admin.
 */
export function putContent(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const name = String(req.params['name'] ?? '');
    if (!deps.cluster.current.sites[name]) throw new BootfleetError('ERR_NOT_FOUND', `no site ${name}: add it first (bootfleet site add ${name} --domain …)`);
    const tar = await readBody(req, MAX_CONTENT_BYTES + 1024 * 1024);
    await checkContentTar(tar);
    const content = await deps.content.put(name, tar);
    await deps.cluster.change((s) => {
      const site = s.sites[name];
      if (!site) throw new BootfleetError('ERR_NOT_FOUND', `site ${name} was removed meanwhile`);
      site.content = content;
    });
    res.json(content);
  });
}

/** POST /api/sites/:name/scale {minReplicas?, maxReplicas?, capacity?}. Admin. */
export function scale(deps: AppDeps): RequestHandler {
  return answering(async (req, res) => {
    const name = String(req.params['name'] ?? '');
    const state = await deps.cluster.change((s) => {
      const site = s.sites[name];
      if (!site) throw new BootfleetError('ERR_NOT_FOUND', `no site ${name} (bootfleet site list)`);
      s.sites[name] = scaleSite(site, (req.body ?? {}) as { minReplicas?: unknown; maxReplicas?: unknown; capacity?: unknown });
    });
    res.json(state.sites[name]);
  });
}

/** POST /api/sites/:name/assign {node} — pins the site to a node (`bootfleet assign`); DELETE …/assign/:mac unpins. Admin. */
export function assign(deps: AppDeps, pin: boolean): RequestHandler {
  return answering(async (req, res) => {
    const name = String(req.params['name'] ?? '');
    const raw = String(pin ? ((req.body ?? {}) as Record<string, unknown>)['node'] ?? '' : req.params['mac'] ?? '');
    const mac = normalizeMac(raw) ?? deps.nodes.findBy((n) => n.hostname === raw)?.mac;
    if (!mac) throw new BootfleetError('ERR_NOT_FOUND', `no node ${raw}: give its MAC or hostname (bootfleet node list)`);
    if (pin && !deps.nodes.get(mac)) throw new BootfleetError('ERR_NOT_FOUND', `no node ${raw} has booted (bootfleet node list)`);
    const state = await deps.cluster.change((s) => {
      const site = s.sites[name];
      if (!site) throw new BootfleetError('ERR_NOT_FOUND', `no site ${name} (bootfleet site list)`);
      site.pinned = pin ? [...new Set([...site.pinned, mac])].sort() : site.pinned.filter((m) => m !== mac);
    });
    res.json(state.sites[name]);
  });
}

/** Reads a raw request body up to `limit` bytes (413 beyond it, the rest discarded). */
function readBody(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BootfleetError('ERR_USAGE', `site content refused: more than ${Math.round(MAX_CONTENT_BYTES / 1048576)} MiB`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const STATUS: Partial<Record<ErrorCode, number>> = { ERR_USAGE: 400, ERR_NOT_FOUND: 404, ERR_CONFLICT: 409, ERR_NODE_NOT_FOUND: 404 };

/** Runs an admin handler: a BootfleetError becomes `{error}` with its status (400/404/409), nothing else is touched. */
export function answering(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return async (req, res, next) => {
    try {
      await fn(req, res);
    } catch (err) {
      const status = err instanceof BootfleetError ? STATUS[err.code] : undefined;
      if (status === undefined || res.headersSent) return next(err);
      res.status(status).json({ error: (err as Error).message, code: (err as BootfleetError).code });
    }
  };
}
