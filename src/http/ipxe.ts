import type { RequestHandler } from 'express';
import type { AppDeps } from './app.js';
import { remoteAddress, routeNode } from './access.js';

/**
 * GET /boot.ipxe?mac=<mac>: the per-node iPXE script (pxe/boot.ipxe.hbs), from the node's spec.
 * The DHCP answer puts the MAC in the URL; the request must come from that node's address.
 */
export function ipxeScript(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const node = routeNode(res);
    const spec = deps.spec(node);
    if (spec.admission !== 'admitted') {
      res.status(403).type('text/plain').send(`${node.mac} is ${spec.admission}: ${spec.reason}\n`);
      return;
    }
    deps.nodes.record(node.mac, 'ipxe-script', `from ${remoteAddress(req)}`);
    const script = await deps.templates.render('boot.ipxe.hbs', {
      mac: node.mac,
      controllerUrl: deps.httpBase,
      scriptUrl: `${deps.httpBase}/boot.ipxe?mac=${node.mac}`,
      kernelUrl: spec.kernel?.url ?? '',
      kernelName: spec.kernel?.name ?? '',
      initrds: spec.initrds,
      cmdline: spec.cmdline,
    });
    res.type('text/plain').send(script);
  };
}
