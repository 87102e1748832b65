import type { Request, RequestHandler, Response } from 'express';
import type { AppDeps } from '../http/app.js';
import { SESSION_COOKIE, remoteAddress, sessionCookie } from '../http/access.js';
import { sameSecret } from '../auth/secrets.js';
import { HtmlPages, uiHeaders } from './html.js';
import { uiDir } from './pages.js';
import type { Sessions } from './session.js';

/** Where to go after logging in: a path on this controller only (never `//host` or a URL: no open redirect). */
export function safeNext(raw: unknown): string {
  const next = typeof raw === 'string' ? raw : '';
  return /^\/(?![/\\])[\x21-\x7e]*$/.test(next) && !next.startsWith('/login') ? next : '/ui/fleet';
}

/** GET /login: the form asking for the admin token. Public (it must be reachable to log in). */
export function loginForm(deps: AppDeps): RequestHandler {
  const pages = new HtmlPages(uiDir(deps));
  return async (req, res, next) => {
    try {
      await sendLogin(pages, res, 200, safeNext(req.query['next']), '');
    } catch (err) {
      next(err);
    }
  };
}

/**
 * POST /login (form: `token`, `next`): with the admin token, a session cookie (`bootfleet_session`,
 * HttpOnly, SameSite=Strict, Path=/) and a redirect to `next`; otherwise the form again with a
 * 401 and what to do. Public.
 */
export function login(deps: AppDeps, sessions: Sessions): RequestHandler {
  const pages = new HtmlPages(uiDir(deps));
  return async (req: Request, res: Response, next) => {
    try {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const token = typeof body['token'] === 'string' ? body['token'].trim() : '';
      const to = safeNext(body['next']);
      if (!sameSecret(token, deps.adminToken)) {
        deps.log.info({ remote: remoteAddress(req) }, 'web UI login refused: wrong admin token');
        await sendLogin(pages, res, 401, to, 'That is not the admin token. It is the one line in <stateDir>/admin-token on the controller.');
        return;
      }
      const session = sessions.create();
      deps.log.info({ remote: remoteAddress(req) }, 'web UI login');
      res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${session.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${session.maxAgeSeconds}`);
      res.redirect(303, to);
    } catch (err) {
      next(err);
    }
  };
}

/** POST /logout: the session ends (its id is worthless from now on) and the cookie is cleared. Admin. */
export function logout(sessions: Sessions): RequestHandler {
  return (req, res) => {
    const id = sessionCookie(req);
    if (id !== undefined) sessions.end(id);
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    res.redirect(303, '/login');
  };
}

async function sendLogin(pages: HtmlPages, res: Response, status: number, next: string, error: string): Promise<void> {
  const html = await pages.render('login', 'Log in', { next, error });
  uiHeaders(res);
  res.status(status).type('html').send(html);
}
