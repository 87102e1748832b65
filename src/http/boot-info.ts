import type { RequestHandler } from 'express';
import { createHash } from 'node:crypto';
import type { AppDeps } from './app.js';
import { routeNode } from './access.js';

/**
 * GET /api/boot/:mac[?arch=<uname -m>] — what the node's initramfs boots, as `key=value` lines
 * (text/plain), a format busybox sh can read without eval: hostname, image, version,
 * squashfs_url/sha256/size, overlay_url/sha256/size, node_secret, init (the contract is
 * src/images/initramfs/README.md). Only the node itself (its address); 403 while it is not
 * admitted, 404 when nothing is assigned (the initramfs retries).
 */
export function bootInfo(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const node = routeNode(res);
    const arch = debianArch(String(req.query['arch'] ?? ''));
    const spec = deps.spec(node, arch);
    if (spec.admission !== 'admitted') {
      res.status(403).type('text/plain').send(`${node.mac} is ${spec.admission}: ${spec.reason}\n`);
      return;
    }
    if (!spec.image || !spec.root) {
      res.status(404).type('text/plain').send(`no image is assigned to ${node.mac}${spec.imageRef ? ` (${spec.imageRef} has no ${spec.arch} build)` : ''}\n`);
      return;
    }
    const overlay = await deps.nodeOverlay(spec);
    deps.nodes.update(node.mac, { image: `${spec.image.name}@${spec.image.version}`, hostname: spec.hostname, ...(arch ? { arch } : {}) });
    const lines = {
      hostname: spec.hostname,
      image: spec.image.name,
      version: spec.image.version,
      squashfs_url: spec.root.url,
      squashfs_sha256: spec.root.sha256,
      squashfs_size: String(spec.root.size),
      overlay_url: spec.overlayUrl ?? '',
      overlay_sha256: createHash('sha256').update(overlay).digest('hex'),
      overlay_size: String(overlay.length),
      node_secret: deps.nodeSecret(node.mac),
      init: '/sbin/init',
    };
    res.type('text/plain').set('Cache-Control', 'no-store').send(Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  };
}

/** `uname -m` as the initramfs reports it → Debian's architecture name. */
function debianArch(machine: string): 'amd64' | 'arm64' | undefined {
  if (machine === 'x86_64') return 'amd64';
  if (machine === 'aarch64') return 'arm64';
  return undefined;
}
