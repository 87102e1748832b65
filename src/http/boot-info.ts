import type { RequestHandler } from 'express';
import { createHash } from 'node:crypto';
import type { AppDeps } from './app.js';
import { routeNode } from './access.js';
import type { MachineSpec } from '../boot/policy.js';

/**
 * GET /api/boot/:mac[?arch=<uname -m>] — what the node's initramfs boots, as `key=value` lines
 * (text/plain), a format busybox sh can read without eval: hostname, image, version, one
 * `layer=<url> <sha256> <size>` line per root layer bottom first (all of one build), or for a
 * boot set from before layers squashfs_url/sha256/size, then overlay_url/sha256/size,
 * node_secret, init (the contract is src/images/initramfs/README.md). Only the node itself (its
 * address); 403 while it is not admitted, 404 when nothing is assigned (the initramfs retries).
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
    const lines: Array<[string, string]> = [
      ['hostname', spec.hostname],
      ['image', spec.image.name],
      ['version', spec.image.version],
      ...rootLines(spec.root),
      ['overlay_url', spec.overlayUrl ?? ''],
      ['overlay_sha256', createHash('sha256').update(overlay).digest('hex')],
      ['overlay_size', String(overlay.length)],
      ['node_secret', deps.nodeSecret(node.mac)],
      ['init', '/sbin/init'],
    ];
    res.type('text/plain').set('Cache-Control', 'no-store').send(lines.map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  };
}

/**
 * The root's lines: `layer=<url> <sha256> <size>` bottom first; a boot set from before layers
 * keeps the old single-root keys, which its own initramfs (from that boot set) reads.
 */
function rootLines(root: NonNullable<MachineSpec['root']>): Array<[string, string]> {
  const [only] = root.layers;
  if (root.legacy && only) return [['squashfs_url', only.url], ['squashfs_sha256', only.sha256], ['squashfs_size', String(only.size)]];
  return root.layers.map((l) => ['layer', `${l.url} ${l.sha256} ${l.size}`]);
}

/** `uname -m` as the initramfs reports it → Debian's architecture name. */
function debianArch(machine: string): 'amd64' | 'arm64' | undefined {
  if (machine === 'x86_64') return 'amd64';
  if (machine === 'aarch64') return 'arm64';
  return undefined;
}
