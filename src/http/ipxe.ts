import type { RequestHandler } from 'express';
import { basename } from 'node:path/posix';
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

interface KernelLines {
  kernelUrl: string;
  kernelName: string;
  /** Each initrd with the image name iPXE gives it: the name `initrd=<name>` refers to under UEFI. */
  initrds: Array<{ name: string; url: string }>;
  cmdline: string;
}

/**
 * An assigned image boots its own kernel and initramfs, which then fetch the squashfs root from
 * us; without one, the configured `boot.default` files (a plain kernel + initrd) are used.
 */
async function kernelFor(deps: AppDeps, mac: string): Promise<KernelLines> {
  const image = await deps.imageFor(mac);
  if (image) {
    const base = `${deps.httpBase}/images/${image.name}/${image.version}`;
    return {
      kernelUrl: `${base}/vmlinuz?mac=${mac}`,
      kernelName: 'vmlinuz',
      initrds: [{ name: 'initrd.img', url: `${base}/initrd.img?mac=${mac}` }],
      // panic=10: a diskless node that panics reboots and netboots again instead of hanging.
      cmdline: `console=${serialConsole(deps.nodes.get(mac)?.firmware)} panic=10 bootfleet.controller=${deps.httpBase}`,
    };
  }
  const target = deps.bootTargetFor(mac);
  const fileUrl = (path: string): string => `${deps.httpBase}/files/${encodePath(path)}?mac=${mac}`;
  return {
    kernelUrl: target ? fileUrl(target.kernel) : '',
    kernelName: target ? basename(target.kernel) : '',
    initrds: (target?.initrd ?? []).map((path) => ({ name: basename(path), url: fileUrl(path) })),
    cmdline: target?.cmdline ?? '',
  };
}

/** The first serial port's device: the 8250 UART on PCs, the PL011 on arm64 (QEMU virt, servers). */
function serialConsole(firmware: string | undefined): string {
  return firmware === 'efi-arm64' ? 'ttyAMA0' : 'ttyS0';
}

function encodePath(path: string): string {
  return path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}
