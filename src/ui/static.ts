import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RequestHandler } from 'express';
import type { AppDeps } from '../http/app.js';
import { uiDir } from './pages.js';

/** Our own scripts and styles: flat names only, so a request can never leave the folder. */
const OWN = /^[a-z0-9-]+\.(js|css)$/;
/** uPlot's browser build and its styles, from the npm package (no build step, no CDN). */
const VENDOR = new Set(['uPlot.iife.min.js', 'uPlot.min.css']);

/** GET /ui/static/<file>: the UI's scripts and styles (ui/static/). Public: they hold no data. */
export function staticFile(deps: AppDeps): RequestHandler {
  const dir = join(uiDir(deps), 'static');
  return (req, res, next) => {
    const file = String(req.params['file'] ?? '');
    if (!OWN.test(file)) return next();
    // no-cache: revalidated by ETag each time, so an upgraded controller's scripts are used at once.
    res.sendFile(file, { root: dir, dotfiles: 'deny', headers: { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' } }, (err) => {
      if (err) next();
    });
  };
}

/** GET /ui/vendor/<file>: uPlot's dist files from node_modules. Public. */
export function vendorFile(): RequestHandler {
  const dir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  return (req, res, next) => {
    const file = String(req.params['file'] ?? '');
    if (!VENDOR.has(file)) return next();
    res.sendFile(file, { root: dir, headers: { 'Cache-Control': 'public, max-age=86400', 'X-Content-Type-Options': 'nosniff' } }, (err) => {
      if (err) next();
    });
  };
}
