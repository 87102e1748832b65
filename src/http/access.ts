import type { Request, RequestHandler, Response } from 'express';
import { normalizeMac } from '../net/addr.js';
import { sameSecret } from '../auth/secrets.js';
import type { NodeRecord, NodeRegistry } from '../cluster/nodes.js';

/**
 * Who may call a route (docs/security.md, docs/http-api.md):
 * - `public`: anyone who reaches the cluster listener: boot artifacts that are the same for every
 *   node (kernels, initramfs, images, iPXE) and the health probe. No fleet data.
 * - `node-address`: only the node itself, recognised by its address: the request must come from
 *   the address the controller leased or saw that MAC take (firmware and iPXE carry no secret).
 * - `node`: the node itself, by address AND by its per-node secret (handed out in its boot info,
 *   sent as `Authorization: Bearer <secret>`).
 * - `admin`: the operator: the admin token as `Authorization: Bearer <token>` (the CLI) or the
 *   web UI's session cookie.
 */
export type Access = 'public' | 'node-address' | 'node' | 'admin';

export interface AccessDeps {
  nodes: NodeRegistry;
  /** Told of every refusal (logged at debug level: who asked for what, and why not). */
  onRefused?: (req: Request, why: string) => void;
  adminToken: string;
  nodeSecret: (mac: string) => string;
  /** A web UI session cookie value that is valid (issued by the login route), if any. */
  validSession?: (cookie: string) => boolean;
}

/** The node a node route is about, once access was checked (`res.locals.node`). */
export function routeNode(res: Response): NodeRecord {
  return res.locals['node'] as NodeRecord;
}

/**
 * The middleware that enforces `access` before a route's handler runs. `page`: the route is a web
 * UI page, so a browser without a session (it asks for text/html) is sent to the login form
 * instead of getting a 401.
 */
export function guard(access: Access, deps: AccessDeps, opts: { page?: boolean } = {}): RequestHandler | undefined {
  switch (access) {
    case 'public':
      return undefined;
    case 'admin':
      return (req, res, next) => {
        const by = adminBy(req, deps);
        // CSRF (docs/ui.md): the cookie is SameSite=Strict, and a state change riding on it must
        // also name this controller as its Origin (or Referer). A bearer token cannot be sent by
        // another site's page, so token calls need no such check.
        if (by === 'session' && !SAFE_METHODS.has(req.method) && !sameOrigin(req)) {
          deps.onRefused?.(req, `${req.method} with the session cookie from origin ${req.get('origin') ?? req.get('referer') ?? 'none'}`);
          res.status(403).type('text/plain').send('refused: a change made with the web UI session must come from the UI\'s own pages (Origin is not this controller)\n');
          return;
        }
        if (by) return next();
        if (opts.page && /\btext\/html\b/.test(req.get('accept') ?? '')) {
          res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
          return;
        }
        res.status(401).set('WWW-Authenticate', 'Bearer realm="bootfleet"').type('text/plain')
          .send('admin token required: send "Authorization: Bearer <token>" (the token is in <stateDir>/admin-token)\n');
      };
    case 'node-address':
    case 'node':
      return (req, res, next) => {
        const raw = String((req.params as Record<string, string>)['mac'] ?? req.query['mac'] ?? '');
        const mac = normalizeMac(raw);
        if (!mac) {
          res.status(400).type('text/plain').send(`not a MAC address: ${raw}\n`);
          return;
        }
        const node = deps.nodes.get(mac);
        const from = remoteAddress(req);
        // Same answer for "unknown MAC" and "not that node's address": nothing to learn by probing.
        if (!node || node.ip === undefined || node.ip !== from) {
          deps.onRefused?.(req, node ? `from ${from}, the node is at ${node.ip ?? 'no known address'}` : `unknown MAC ${mac}`);
          res.status(403).type('text/plain').send(`only ${mac} itself may call this (from the address the controller gave it)\n`);
          return;
        }
        if (access === 'node' && !sameSecret(bearer(req) ?? '', deps.nodeSecret(mac))) {
          deps.onRefused?.(req, bearer(req) === undefined ? 'no node secret' : 'wrong node secret');
          res.status(403).type('text/plain').send(`node secret required: send "Authorization: Bearer <node_secret from the boot info>"\n`);
          return;
        }
        res.locals['node'] = node;
        next();
      };
  }
}

/** How the caller proved it is the operator: the admin token, the UI session cookie, or not at all. */
function adminBy(req: Request, deps: AccessDeps): 'token' | 'session' | undefined {
  const token = bearer(req);
  if (token !== undefined && sameSecret(token, deps.adminToken)) return 'token';
  const session = sessionCookie(req);
  return session !== undefined && (deps.validSession?.(session) ?? false) ? 'session' : undefined;
}

export const SESSION_COOKIE = 'bootfleet_session';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The UI session id the request carries, if any. */
export function sessionCookie(req: Request): string | undefined {
  return cookie(req, SESSION_COOKIE);
}

/**
 * Whether the request comes from a page of this controller: its Origin (or, lacking one, its
 * Referer) names the host the request was sent to. Browsers send Origin on every POST, PUT and
 * DELETE, from forms and fetch alike; a request with neither is refused.
 */
export function sameOrigin(req: Request): boolean {
  const host = req.get('host');
  const from = req.get('origin') ?? req.get('referer');
  if (!host || !from) return false;
  try {
    return new URL(from).host === host;
  } catch {
    return false; // "null" (a sandboxed or privacy-stripped origin) or garbage
  }
}

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return m?.[1];
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** The client's IPv4 address (a dual-stack socket reports it as ::ffff:a.b.c.d). */
export function remoteAddress(req: Request): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}
