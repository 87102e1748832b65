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

/** The middleware that enforces `access` before a route's handler runs. */
export function guard(access: Access, deps: AccessDeps): RequestHandler | undefined {
  switch (access) {
    case 'public':
      return undefined;
    case 'admin':
      return (req, res, next) => {
        if (isAdmin(req, deps)) return next();
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

function isAdmin(req: Request, deps: AccessDeps): boolean {
  const token = bearer(req);
  if (token !== undefined && sameSecret(token, deps.adminToken)) return true;
  const session = cookie(req, SESSION_COOKIE);
  return session !== undefined && (deps.validSession?.(session) ?? false);
}

export const SESSION_COOKIE = 'bootfleet_session';

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
