import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { packageRoot } from '../../src/pkg.js';

/**
 * An overlays folder for a lab controller (`overlaysDir`): the shipped node overlay plus CGI
 * scripts under /cgi-bin/<name> (busybox httpd runs them), so a test can look inside a node, or
 * act from the node's own address. Each script gets the CGI header; `body` is the rest (sh).
 */
export async function overlaysWithCgi(lab: Lab, scripts: Record<string, string>): Promise<string> {
  const overlays = join(lab.logDir, 'overlays');
  await cp(join(packageRoot(), 'overlays', 'node'), join(overlays, 'node'), { recursive: true });
  await mkdir(join(overlays, 'node', 'srv', 'www', 'cgi-bin'), { recursive: true });
  for (const [name, body] of Object.entries(scripts)) {
    const file = join(overlays, 'node', 'srv', 'www', 'cgi-bin', name);
    await writeFile(file, `#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\n${body}\n`);
    await chmod(file, 0o755);
  }
  return overlays;
}
