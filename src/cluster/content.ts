import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { BootfleetError } from '../errors.js';
import { relativeFromNetwork } from '../store/paths.js';
import type { SiteContent } from './model.js';

/** A site's content: at most this many bytes of files (`site.maxContentMiB` may lower it). */
export const MAX_CONTENT_BYTES = 256 * 1024 * 1024;
const MAX_ENTRIES = 100_000;

/**
 * Checks an uploaded site content tar before anything is stored: only regular files and
 * directories, names relative and without `..`, at most MAX_ENTRIES entries and `maxBytes` of
 * file data. The node agent extracts it into the site's own folder, so what passes here can
 * never write outside it. Throws ERR_USAGE naming the first offending member.
 */
export async function checkContentTar(tar: Buffer, maxBytes = MAX_CONTENT_BYTES): Promise<{ files: number; bytes: number }> {
  const ex = extract();
  let files = 0;
  let bytes = 0;
  let entries = 0;
  const refuse = (why: string): never => {
    throw new BootfleetError('ERR_USAGE', `site content refused: ${why}`);
  };
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      try {
        entries++;
        if (entries > MAX_ENTRIES) refuse(`more than ${MAX_ENTRIES} entries`);
        // `tar -C dir -cf - .` starts with the folder itself, "./": nothing to check.
        const rootDir = header.type === 'directory' && (header.name === '.' || header.name === './');
        const checked = rootDir ? { rel: '.' } : relativeFromNetwork(header.name);
        if ('refused' in checked || header.name.startsWith('/')) refuse(`member ${header.name}: ${'refused' in checked ? checked.refused : 'absolute path'}`);
        if (header.type !== 'file' && header.type !== 'directory') refuse(`member ${header.name} is a ${header.type}: only files and directories`);
        if (header.type === 'file') {
          files++;
          bytes += header.size ?? 0;
          if (bytes > maxBytes) refuse(`more than ${Math.round(maxBytes / 1048576)} MiB of files`);
        }
      } catch (err) {
        reject(err);
        ex.destroy();
        return;
      }
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', (err: Error) => reject(err instanceof BootfleetError ? err : new BootfleetError('ERR_USAGE', `site content refused: not a readable tar (${err.message})`)));
  });
  Readable.from([tar]).pipe(ex);
  await done;
  if (files === 0) refuse('no files in it (a site needs at least its health page)');
  return { files, bytes };
}

/**
 * Site content kept by the controller, content-addressed: `<dir>/<site>/<version>.tar`, where
 * version is the first 12 hex digits of the tar's sha256. Written by rename, so a reader never
 * sees half a tar.
 */
export class ContentStore {
  constructor(private readonly dir: string) {}

  async put(site: string, tar: Buffer, now = new Date()): Promise<SiteContent> {
    const sha256 = createHash('sha256').update(tar).digest('hex');
    const content: SiteContent = { version: sha256.slice(0, 12), sha256, size: tar.length, uploadedAt: now.toISOString() };
    const file = this.file(site, content.version);
    if (await stat(file).then((s) => s.size === tar.length, () => false)) return content;
    await mkdir(join(this.dir, site), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, tar);
    await rename(tmp, file);
    return content;
  }

  read(site: string, version: string): Promise<Buffer> {
    return readFile(this.file(site, version));
  }

  file(site: string, version: string): string {
    if (!/^[a-z0-9-]+$/.test(site) || !/^[0-9a-f]{12}$/.test(version)) throw new BootfleetError('ERR_INTERNAL', `bad content reference ${site}@${version}`);
    return join(this.dir, site, `${version}.tar`);
  }

  async remove(site: string): Promise<void> {
    if (!/^[a-z0-9-]+$/.test(site)) return;
    await rm(join(this.dir, site), { recursive: true, force: true });
  }
}
