import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { adminClient } from './client.js';

/**
 * `bootfleet balancer render --kind haproxy|nginx|apache|pen|keepalived [--out <folder>]`: the
 * balancer config for the current placement, printed or written into a folder (for a balancer
 * run elsewhere; docs/balancer.md).
 */
export async function balancerRenderCommand(o: { config: string; kind: string; out?: string }, say: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const { files } = await (await adminClient(o.config)).request<{ files: Array<{ path: string; text: string }> }>('GET', `/api/balancer/${encodeURIComponent(o.kind)}`);
  for (const f of files) {
    if (o.out) {
      const target = join(o.out, f.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.text);
      say(`wrote ${target}\n`);
    } else {
      say(`# ---- ${f.path}\n${f.text}${f.text.endsWith('\n') ? '' : '\n'}`);
    }
  }
}
