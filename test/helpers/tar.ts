import { packTar } from '../../src/render/tar.js';

/** A tar of `files` (path → text), as `bootfleet site deploy` uploads site content. */
export function tarOf(files: Record<string, string>): Promise<Buffer> {
  return packTar(Object.entries(files).map(([path, text]) => ({ path, mode: 0o644, type: 'file', data: Buffer.from(text) })));
}
