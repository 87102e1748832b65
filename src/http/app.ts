import express, { type Request, type Response, type NextFunction, type RequestHandler } from 'express';
import type { Logger } from '../log.js';
import type { NodeRegistry } from '../cluster/nodes.js';
import type { Templates } from '../render/templates.js';
import type { BootTarget } from '../config.js';
import { healthz, type HealthProbe } from './health.js';
import type { EnrolledPi } from '../cluster/enrollment.js';
import { ipxeScript } from './ipxe.js';
import { bootFile, imageFile } from './files.js';
import { listNodes, getNode } from './api.js';
import { bootInfo } from './boot-info.js';
import { postEvent } from './events.js';
import { nodeOverlay } from './overlay.js';
import type { BootImage } from '../images/boot-image.js';

/** Everything the HTTP routes need; passed in, never global. */
export interface AppDeps {
  log: Logger;
  nodes: NodeRegistry;
  templates: Templates;
  /** Root of the files served under /files/ (the same tree TFTP serves). */
  bootDir: string;
  /** `http://<address>:<port>`: how nodes reach us. */
  httpBase: string;
  /** What a node boots: its kernel, initrds and command line (paths under bootDir), if anything. */
  bootTargetFor: (mac: string) => BootTarget | undefined;
  health: HealthProbe;
  /** The image this node boots (its assignment, else the default), if any is built. */
  imageFor: (mac: string, arch?: 'amd64' | 'arm64') => Promise<BootImage | undefined>;
  /** Folder of `name` at `version` in the image store, if it exists. */
  imageDir: (name: string, version: string) => string | undefined;
  hostnameFor: (mac: string) => string;
  /** The node's overlay, rendered for it, as a tar. */
  nodeOverlay: (mac: string) => Promise<Buffer>;
  /** Raspberry Pis approved with `bootfleet node add`. */
  enrolled: () => Promise<EnrolledPi[]>;
  /** Told when a node fetched its iPXE script (ends a chainload, see BootGlue). */
  onScriptServed?: (mac: string) => void;
}

type Route = [method: 'get' | 'post', path: string, handler: RequestHandler];

/**
 * The controller's HTTP API. This table is the table of contents: every path the controller
 * serves is registered here and nowhere else (docs/http-api.md documents each).
 */
export function createApp(deps: AppDeps): express.Express {
  const routes: Route[] = [
    ['get', '/healthz', healthz(deps)],
    ['get', '/boot.ipxe', ipxeScript(deps)],
    ['get', '/files/*path', bootFile(deps)],
    ['get', '/images/:name/:version/*path', imageFile(deps)],
    ['get', '/api/boot/:mac', bootInfo(deps)],
    ['get', '/overlay/:mac', nodeOverlay(deps)],
    ['get', '/api/nodes', listNodes(deps)],
    ['get', '/api/nodes/:mac', getNode(deps)],
    ['post', '/api/nodes/:mac/events', postEvent(deps)],
  ];
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', 'strong');
  // Small bodies only: nodes post boot events as busybox wget form posts, tools as JSON.
  app.use(express.urlencoded({ extended: false, limit: '8kb' }), express.json({ limit: '64kb' }));
  for (const [method, path, handler] of routes) app[method](path, handler);
  app.use((req: Request, res: Response) => {
    res.status(404).type('text/plain').send(`no route for ${req.method} ${req.path}\n`);
  });
  // A failing request is logged with its cause for the operator and answered tersely.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    deps.log.error({ err, path: req.path, remote: req.socket.remoteAddress }, 'http request failed');
    if (!res.headersSent) res.status(500).type('text/plain').send('internal error\n');
  });
  return app;
}
