import type { RequestHandler } from 'express';
import { normalizeMac } from '../net/addr.js';
import type { AppDeps } from './app.js';

/**
 * GET /boot.ipxe?mac=<mac>: the per-node iPXE script (pxe/boot.ipxe.hbs). The DHCP answer puts the
 * MAC in the URL, so the controller never has to guess who is asking.
 */
export function ipxeScript(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const mac = normalizeMac(String(req.query['mac'] ?? ''));
    if (!mac) {
      res.status(400).type('text/plain').send('boot.ipxe needs ?mac=<MAC address>\n');
      return;
    }
    deps.nodes.record(mac, 'ipxe-script', `from ${req.socket.remoteAddress ?? '?'}`);
    const script = await deps.templates.render('boot.ipxe.hbs', {
      mac,
      controllerUrl: deps.httpBase,
      scriptUrl: `${deps.httpBase}/boot.ipxe?mac=${mac}`,
      ...(await kernelFor(deps, mac)),
    });
    res.type('text/plain').send(script);
    deps.onScriptServed?.(mac);
  };
}

/**
 * An assigned image boots its own kernel and initramfs, which then fetch the squashfs root from
 * us; without one, the configured `boot.default` files (a plain kernel + initrd) are used.
 */
async function kernelFor(deps: AppDeps, mac: string): Promise<{ kernelUrl: string; initrdUrls: string[]; cmdline: string }> {
  const image = await deps.imageFor(mac);
  if (image) {
    const base = `${deps.httpBase}/images/${image.name}/${image.version}`;
    return {
      kernelUrl: `${base}/vmlinuz?mac=${mac}`,
      initrdUrls: [`${base}/initrd.img?mac=${mac}`],
      cmdline: `console=ttyS0 bootfleet.controller=${deps.httpBase}`,
    };
  }
  const target = deps.bootTargetFor(mac);
  const fileUrl = (path: string): string => `${deps.httpBase}/files/${encodePath(path)}?mac=${mac}`;
  return {
    kernelUrl: target ? fileUrl(target.kernel) : '',
    initrdUrls: target ? target.initrd.map(fileUrl) : [],
    cmdline: target?.cmdline ?? '',
  };
}

function encodePath(path: string): string {
  return path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}
