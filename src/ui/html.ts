import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { Response } from 'express';
import { BootfleetError } from '../errors.js';

type Render = (context: unknown) => string;

export interface NavItem {
  href: string;
  label: string;
  current: boolean;
}

const PAGES: Array<{ page: string; href: string; label: string }> = [
  { page: 'fleet', href: '/ui/fleet', label: 'Fleet' },
  { page: 'sites', href: '/ui/sites', label: 'Sites' },
  { page: 'images', href: '/ui/images', label: 'Images' },
  { page: 'balancer', href: '/ui/balancer', label: 'Balancer' },
];

/**
 * The web UI's pages: Handlebars templates in `<dir>/templates/` (`layout.hbs` around each page),
 * compiled in strict mode (a field the view lacks fails the render, naming it) and with HTML
 * escaping on (unlike the boot templates, these show names and text that came from the network).
 * Recompiled when a file changes, like src/render/templates.ts.
 */
export class HtmlPages {
  private readonly hbs = Handlebars.create();
  private readonly cache = new Map<string, { mtimeMs: number; render: Render }>();

  constructor(readonly dir: string) {}

  /**
   * The page `name` with `view`: inside the layout, or alone (`part`: what the page's script swaps
   * in on a live update).
   */
  async render(name: string, title: string, view: object, opts: { part?: boolean; scripts?: string[]; styles?: string[] } = {}): Promise<string> {
    const body = await this.template(name, view);
    if (opts.part) return body;
    const nav = PAGES.map((p): NavItem => ({ href: p.href, label: p.label, current: p.page === name }));
    return this.template('layout', { title, body, nav, page: name, scripts: opts.scripts ?? [], styles: opts.styles ?? [], loggedIn: name !== 'login' });
  }

  private async template(name: string, view: unknown): Promise<string> {
    const file = join(this.dir, 'templates', `${name}.hbs`);
    const render = await this.compiled(file);
    try {
      return render(view);
    } catch (err) {
      throw new BootfleetError('ERR_TEMPLATE', `${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async compiled(file: string): Promise<Render> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(file)).mtimeMs;
    } catch (err) {
      throw new BootfleetError('ERR_TEMPLATE', `UI template ${file} is missing (the package's ui/ folder)`, { cause: err });
    }
    const hit = this.cache.get(file);
    if (hit && hit.mtimeMs === mtimeMs) return hit.render;
    const render = this.hbs.compile(await readFile(file, 'utf8'), { strict: true });
    this.cache.set(file, { mtimeMs, render });
    return render;
  }
}

/**
 * Headers every UI answer carries: scripts and styles from this controller only (no inline code
 * at all), never framed (clickjacking), no referrer to other sites, no MIME sniffing, no caching
 * of fleet data.
 */
export function uiHeaders(res: Response): void {
  res.set({
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
}
