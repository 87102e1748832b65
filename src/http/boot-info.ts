import type { RequestHandler } from 'express';
import { macParam } from './mac.js';
import type { AppDeps } from './app.js';

/**
 * GET /api/boot/:mac[?arch=<uname -m>] — what the node's initramfs boots, as `key=value` lines (text/plain), a
 * format busybox sh can read without eval: hostname, image, version, squashfs_url,
 * squashfs_sha256, squashfs_size, overlay_url, init. 404 when nothing is assigned (the initramfs
 * retries). A known arch is passed on in overlay_url: a node that booted its kernel directly has
 * no firmware to guess the arch from, and its overlay must name the build it boots.
 */
export function bootInfo(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const mac = macParam(req, res);
    if (!mac) return;
    const machine = String(req.query['arch'] ?? '');
    const image = await deps.imageFor(mac, debianArch(machine));
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
      // The overlay is rendered for this same build (its image.version), so it needs the arch too.
      overlay_url: `${deps.httpBase}/overlay/${mac}${debianArch(machine) ? `?arch=${machine}` : ''}`,
      init: '/sbin/init',
    };
    res.type('text/plain').send(Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  };
}

/** `uname -m` as the initramfs reports it → Debian's architecture name; undefined for anything else. */
export function debianArch(machine: string): 'amd64' | 'arm64' | undefined {
  if (machine === 'x86_64') return 'amd64';
  if (machine === 'aarch64') return 'arm64';
  return undefined;
}
