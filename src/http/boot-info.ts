import type { RequestHandler } from 'express';
import { macParam } from './mac.js';
import type { AppDeps } from './app.js';

/**
 * GET /api/boot/:mac[?arch=<uname -m>] — what the node's initramfs boots, as `key=value` lines (text/plain), a
 * format busybox sh can read without eval: hostname, image, version, squashfs_url,
 * squashfs_sha256, squashfs_size, overlay_url, init. 404 when nothing is assigned (the initramfs
 * retries).
 */
export function bootInfo(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const mac = macParam(req, res);
    if (!mac) return;
    const image = await deps.imageFor(mac, debianArch(String(req.query['arch'] ?? '')));
    const root = image?.files['root.squashfs'];
    if (!image || !root) {
      res.status(404).type('text/plain').send(`no image is assigned to ${mac}\n`);
      return;
    }
    const ref = `${image.name}@${image.version}`;
    deps.nodes.see(mac, { image: ref });
    const lines = {
      hostname: deps.hostnameFor(mac),
      image: image.name,
      version: image.version,
      squashfs_url: `${deps.httpBase}/images/${image.name}/${image.version}/root.squashfs`,
      squashfs_sha256: root.sha256,
      squashfs_size: String(root.size),
      overlay_url: `${deps.httpBase}/overlay/${mac}`,
      init: '/sbin/init',
    };
    res.type('text/plain').send(Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  };
}

/** `uname -m` as the initramfs reports it → Debian's architecture name. */
function debianArch(machine: string): 'amd64' | 'arm64' | undefined {
  if (machine === 'x86_64') return 'amd64';
  if (machine === 'aarch64') return 'arm64';
  return undefined;
}
