import { stat } from 'node:fs/promises';
import type { RequestHandler, Response } from 'express';
import type { SiteContent } from '../cluster/model.js';
import type { AppDeps } from './app.js';
import { routeNode } from './access.js';
import { manifestFor, manifestText } from '../cluster/manifest.js';

/** Longest a manifest request may wait for a newer generation (the agent asks again right after). */
const MAX_WAIT_MS = 55_000;

/**
 * GET /api/nodes/:mac/manifest[?wait=<generation>&timeout=<s>] — what this node runs: hostname,
 * image, sites (src/cluster/manifest.ts). With `wait`, answers as soon as the cluster's
 * generation differs from it (long-poll), or after `timeout` seconds (default 25) with the same
 * one, so a change reaches nodes in well under a second. key=value text for the sh agent, JSON
 * with `Accept: application/json`. Node only.
 */
export function getManifest(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const node = routeNode(res);
    const wait = req.query['wait'] === undefined ? undefined : Number(req.query['wait']);
    if (wait !== undefined && Number.isInteger(wait) && wait === deps.cluster.current.generation) {
      const timeoutMs = Math.min(MAX_WAIT_MS, Math.max(0, Number(req.query['timeout'] ?? 25) * 1000 || 0));
      await deps.waitForChange(wait, timeoutMs, req);
      if (req.socket.destroyed) return;
    }
    const spec = deps.spec(deps.nodes.get(node.mac) ?? node);
    const manifest = manifestFor(spec, deps.cluster.current, deps.heartbeatSeconds, deps.controllers?.() ?? []);
    res.set('Cache-Control', 'no-store');
    if (req.accepts(['text/plain', 'application/json']) === 'application/json') res.json(manifest);
    else res.type('text/plain').send(manifestText(manifest));
  };
}

/**
 * POST /api/nodes/:mac/heartbeat (form or JSON: generation, image, sites, load1, mem_free_kb,
 * requests, boot_token) — the agent's report; it keeps the node `ready`. Node only.
 */
export function postHeartbeat(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const node = routeNode(res);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const n = (k: string, fallback = 0): number => {
      const v = Number(b[k]);
      return Number.isFinite(v) ? v : fallback;
    };
    const text = (k: string): string => String(b[k] ?? '').slice(0, 200);
    deps.nodes.update(node.mac, {
      heartbeat: {
        at: new Date().toISOString(),
        generation: Math.trunc(n('generation')),
        image: text('image'),
        sites: text('sites').split(',').filter((s) => /^[a-z0-9-]+@[0-9a-f]{12}$/.test(s)).slice(0, 256),
        load1: n('load1'),
        memFreeKb: Math.trunc(n('mem_free_kb')),
        requests: Math.trunc(n('requests', -1)),
        bootToken: text('boot_token'),
      },
    });
    deps.onHeartbeat?.(node.mac);
    res.status(204).end();
  };
}

/**
 * GET /api/nodes/:mac/sites/:site/:version — a site's content tar for a node that serves it (or
 * is handing it over). Node only: other nodes' sites are 403.
 */
export function getSiteContent(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const node = routeNode(res);
    const state = deps.cluster.current;
    const name = String(req.params['site'] ?? '');
    const version = String(req.params['version'] ?? '').replace(/\.tar$/, '');
    const site = state.sites[name];
    const serves = (state.placement[name] ?? []).includes(node.mac) || (state.retiring[name] ?? []).includes(node.mac);
    if (!site || !serves) {
      res.status(403).type('text/plain').send(`${name} is not placed on ${node.mac}\n`);
      return;
    }
    const content = currentContent(res, name, site.content, version);
    if (!content) return;
    // Uploaded through another controller (store.kind etcd): fetched from it first.
    if (deps.fetchContent && !(await deps.fetchContent(name, content))) {
      res.status(503).type('text/plain').send(`${name}@${version} is not on this controller yet and no other controller handed it over; try again\n`);
      return;
    }
    res.type('application/x-tar').sendFile(deps.content.file(name, version));
  };
}

/**
 * GET /api/sites/:name/content/:version — the stored content tar of a site's current version, for
 * another controller (src/controller/peer-content.ts) or an operator. Admin only.
 */
export function getContent(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const name = String(req.params['name'] ?? '');
    const version = String(req.params['version'] ?? '');
    if (!currentContent(res, name, deps.cluster.current.sites[name]?.content, version)) return;
    const file = deps.content.file(name, version);
    if (!(await stat(file).then(() => true, () => false))) {
      res.status(404).type('text/plain').send(`${name}@${version} is not stored on this controller\n`);
      return;
    }
    res.type('application/x-tar').sendFile(file);
  };
}

/** The site's content when `version` is its current one; else answers 404 naming the current one. */
function currentContent(res: Response, name: string, content: SiteContent | undefined, version: string): SiteContent | undefined {
  if (content?.version === version) return content;
  res.status(404).type('text/plain').send(`${name} has no content version ${version} (current: ${content?.version ?? 'none'})\n`);
  return undefined;
}
