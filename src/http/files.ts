import type { RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import { resolveInside } from '../store/paths.js';
import type { AppDeps } from './app.js';

/**
 * GET /files/<path>: boot files from bootDir, with Range and ETag (express's sendFile), so a
 * node can resume a large download. A `?mac=` names the node, so kernel and initrd downloads
 * become boot events. Paths never escape bootDir: `..`, absolute paths and symlinks out are 404.
 */
export function bootFile(deps: AppDeps): RequestHandler {
  return async (req, res, next) => {
    const segments = (req.params as { path?: string[] }).path ?? [];
    const rel = segments.join('/');
    const file = await resolveInside(deps.bootDir, rel);
    if (!file) {
      res.status(404).type('text/plain').send(`no such file: ${rel}\n`);
      return;
    }
    const mac = normalizeMac(String(req.query['mac'] ?? ''));
    if (mac) recordDownload(deps, mac, rel);
    res.sendFile(file, { dotfiles: 'deny', acceptRanges: true, lastModified: true }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
}

function recordDownload(deps: AppDeps, mac: string, rel: string): void {
  const target = deps.bootTargetFor(mac);
  if (target?.kernel === rel) deps.nodes.record(mac, 'kernel', rel);
  else if (target?.initrd.includes(rel)) deps.nodes.record(mac, 'initrd', rel);
}
