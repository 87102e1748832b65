import type { Request, Response } from 'express';
import { normalizeMac } from '../net/addr.js';

/**
 * The `:mac` route parameter in canonical form. When it is not a MAC address, answers 400
 * naming the value and returns undefined, so a handler reads `const mac = macParam(req, res);
 * if (!mac) return;`.
 */
export function macParam(req: Request, res: Response): string | undefined {
  const raw = String(req.params['mac'] ?? '');
  const mac = normalizeMac(raw);
  if (!mac) res.status(400).type('text/plain').send(`not a MAC address: ${raw}\n`);
  return mac;
}
