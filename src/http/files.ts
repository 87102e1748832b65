import type { Request, RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import { basename, dirname } from 'node:path';
import { LAYER_FILE } from '../images/layer-store.js';
import { resolveInside } from '../store/paths.js';
import type { AppDeps } from './app.js';

/**
 * Serves files from a directory chosen per request, with Range and ETag (express's sendFile) so a
 * node can resume a large download. Paths never escape the directory: `..`, absolute paths and
 * symlinks out are 404 (src/store/paths.ts). `onServed` sees the node (from `?mac=`) and path; it
 * only adds to the timeline of a node the controller already knows.
 */
function serveFrom(rootFor: (req: Request) => string | undefined, onServed?: (mac: string, rel: string) => void): RequestHandler {
  return async (req, res, next) => {
    const rel = ((req.params as { path?: string[] }).path ?? []).join('/');
    const root = rootFor(req);
    const file = root ? await resolveInside(root, rel) : undefined;
    if (!file) {
      res.status(404).type('text/plain').send(`no such file: ${rel}\n`);
      return;
    }
    const mac = normalizeMac(String(req.query['mac'] ?? ''));
    if (mac) onServed?.(mac, rel);
    res.sendFile(file, { dotfiles: 'deny', acceptRanges: true, lastModified: true }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
}

/** GET /files/<path>: boot files from bootDir; a kernel or initrd download is a boot event. */
export function bootFile(deps: AppDeps): RequestHandler {
  return serveFrom(() => deps.bootDir, (mac, rel) => {
    const node = deps.nodes.get(mac);
    const spec = node ? deps.spec(node) : undefined;
    if (spec?.kernel?.url.includes(`/files/${rel}?`)) deps.nodes.record(mac, 'kernel', rel);
    else if (spec?.initrds.some((i) => i.url.includes(`/files/${rel}?`))) deps.nodes.record(mac, 'initrd', rel);
  });
}

/**
 * GET /layers/<sha256>.squashfs: one root layer from the image store's `.layers/`, shared by the
 * boot sets that name it (docs/images.md "Layers"), with Range and ETag like every boot file.
 */
export function layerFile(deps: AppDeps): RequestHandler {
  return async (req, res, next) => {
    const name = String(req.params['file'] ?? '');
    const file = LAYER_FILE.test(name) && deps.layersDir ? await resolveInside(deps.layersDir, name) : undefined;
    if (!file) {
      res.status(404).type('text/plain').send(`no such layer: ${name}\n`);
      return;
    }
    // Relative to its folder: send refuses absolute paths with a dot folder (".layers") in them.
    res.sendFile(basename(file), { root: dirname(file), dotfiles: 'deny', acceptRanges: true, lastModified: true }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
}

/** GET /images/<name>/<version>/<path>: a file of a built boot set from the image store. */
export function imageFile(deps: AppDeps): RequestHandler {
  return serveFrom(
    (req) => deps.imageDir(String(req.params['name'] ?? ''), String(req.params['version'] ?? '')),
    (mac, rel) => {
      if (rel === 'vmlinuz') deps.nodes.record(mac, 'kernel', rel);
      else if (rel === 'initrd.img') deps.nodes.record(mac, 'initrd', rel);
    },
  );
}
