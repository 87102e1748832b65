import { pack } from 'tar-stream';

/** A tar of `files` (path → text), as `bootfleet site deploy` uploads site content. */
export async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const [name, text] of Object.entries(files)) tar.entry({ name, mode: 0o644, mtime: new Date(0) }, text);
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}
