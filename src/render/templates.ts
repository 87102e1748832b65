import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { BootfleetError } from '../errors.js';

/**
 * Handlebars templates from one folder, compiled in strict mode: a variable the context lacks
 * fails the render with the template and variable named, instead of rendering an empty string
 * into a boot script. Compiled templates are cached and recompiled when the file changes.
 */
export class Templates {
  private readonly cache = new Map<string, { mtimeMs: number; render: HandlebarsTemplateDelegate }>();

  constructor(readonly dir: string) {}

  async render(name: string, context: Record<string, unknown>): Promise<string> {
    const file = join(this.dir, name);
    const render = await this.compiled(file);
    try {
      return render(context);
    } catch (err) {
      throw new BootfleetError('ERR_TEMPLATE', `${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async compiled(file: string): Promise<HandlebarsTemplateDelegate> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(file)).mtimeMs;
    } catch (err) {
      throw new BootfleetError('ERR_TEMPLATE', `template ${file} is missing (check controller.templatesDir)`, { cause: err });
    }
    const hit = this.cache.get(file);
    if (hit && hit.mtimeMs === mtimeMs) return hit.render;
    const source = await readFile(file, 'utf8');
    const render = Handlebars.compile(source, { strict: true, noEscape: true });
    this.cache.set(file, { mtimeMs, render });
    return render;
  }
}
