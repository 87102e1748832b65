import { join } from 'node:path';
import type { RequestHandler } from 'express';
import type { AppDeps } from '../http/app.js';
import { nodeViews } from '../http/api.js';
import { siteViews } from '../http/sites.js';
import { packageRoot } from '../pkg.js';
import { HtmlPages, uiHeaders } from './html.js';
import { fleetView, imagesView, ratesView, sitesView } from './views.js';

export type PageName = 'fleet' | 'sites' | 'images' | 'balancer';

/** The package's ui/ folder (templates/, static/), unless the deps name another. */
export function uiDir(deps: Pick<AppDeps, 'uiDir'>): string {
  return deps.uiDir ?? join(packageRoot(), 'ui');
}

const TITLES: Record<PageName, string> = { fleet: 'Fleet', sites: 'Sites', images: 'Images', balancer: 'Balancer' };
/** Scripts per page, from /ui/static/ (and uPlot from /ui/vendor/ for the graphs). */
const SCRIPTS: Record<PageName, string[]> = {
  fleet: ['/ui/static/live.js', '/ui/static/actions.js'],
  sites: ['/ui/static/live.js', '/ui/static/tar.js', '/ui/static/actions.js'],
  images: ['/ui/static/live.js', '/ui/static/actions.js', '/ui/static/rollout.js'],
  balancer: ['/ui/vendor/uPlot.iife.min.js', '/ui/static/live.js', '/ui/static/charts.js'],
};

/** The view of one page, from the controller's state as it is now. */
export function pageView(deps: AppDeps, name: PageName): object {
  const nodes = nodeViews(deps);
  switch (name) {
    case 'fleet':
      return fleetView(nodes);
    case 'sites':
      return sitesView(siteViews(deps), nodes);
    case 'images':
      return imagesView(deps.images?.() ?? [], nodes);
    case 'balancer':
      return ratesView(deps.balancerHistory?.(), nodes);
  }
}

/**
 * GET /ui/<page>: the page, rendered on the server with the state as it is; `?part=main` gives
 * only the page's own part (no layout), which its script fetches and swaps in when the event
 * stream says something changed (ui/static/live.js).
 */
export function uiPage(deps: AppDeps, name: PageName): RequestHandler {
  const pages = new HtmlPages(uiDir(deps));
  return async (req, res, next) => {
    try {
      const html = await pages.render(name, TITLES[name], pageView(deps, name), { part: req.query['part'] === 'main', scripts: SCRIPTS[name], styles: name === 'balancer' ? ['/ui/vendor/uPlot.min.css'] : [] });
      uiHeaders(res);
      res.type('html').send(html);
    } catch (err) {
      next(err);
    }
  };
}

/** GET /: the Fleet page. */
export function uiHome(): RequestHandler {
  return (_req, res) => {
    res.redirect(303, '/ui/fleet');
  };
}
