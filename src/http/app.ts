import express, { type Request, type Response, type NextFunction, type RequestHandler } from 'express';
import type { Logger } from '../log.js';
import type { NodeRecord, NodeRegistry } from '../cluster/nodes.js';
import type { Templates } from '../render/templates.js';
import type { MachineSpec } from '../boot/policy.js';
import type { ClusterStore } from '../cluster/store.js';
import type { ContentStore } from '../cluster/content.js';
import type { SiteContent } from '../cluster/model.js';
import type { DebArch } from '../images/apt-config.js';
import { healthz, type HealthProbe } from './health.js';
import { ipxeScript } from './ipxe.js';
import { bootFile, imageFile, layerFile } from './files.js';
import { listNodes, getNode, addEnrollment, forgetNode, approveNode, nodeSettings, rebootNode } from './api.js';
import { getManifest, postHeartbeat, getSiteContent, getContent } from './manifest.js';
import { listSites, addSite, removeSite, putContent, scale, assign } from './sites.js';
import { balancerConfig } from './balancer.js';
import { bootInfo } from './boot-info.js';
import { postEvent } from './events.js';
import { nodeOverlay } from './overlay.js';
import { guard, type Access } from './access.js';
import { stats } from './stats.js';
import type { StoredImage } from '../images/store.js';
import type { HistoryView } from '../controller/balancer-history.js';
import { Sessions } from '../ui/session.js';
import { uiHome, uiPage } from '../ui/pages.js';
import { login, loginForm, logout } from '../ui/login.js';
import { eventStream } from '../ui/stream.js';
import { staticFile, vendorFile } from '../ui/static.js';
import { countRequests, metricsAccess, metricsRoute, type HttpMetrics } from './metrics.js';
import { getRollout, rolloutVerb, startRollout, type RolloutControl } from './rollout.js';

/** Everything the HTTP routes need; passed in, never global. */
export interface AppDeps {
  log: Logger;
  nodes: NodeRegistry;
  templates: Templates;
  /** Root of the files served under /files/ (the same tree TFTP serves). */
  bootDir: string;
  /** `http://<address>:<port>`: how nodes reach us. */
  httpBase: string;
  health: HealthProbe;
  /** The boot policy's answer for a known node (`arch`: what its initramfs reported). */
  spec: (node: NodeRecord, arch?: DebArch) => MachineSpec;
  /** Folder of `name` at `version` in the image store, if it exists. */
  imageDir: (name: string, version: string) => string | undefined;
  /** The image store's shared layers (`<store>/.layers`), served under /layers/. */
  layersDir?: string;
  /** The node's overlay, rendered for it, as a tar (deterministic: the same bytes for the same spec). */
  nodeOverlay: (spec: MachineSpec) => Promise<Buffer>;
  /** The cluster's desired state: approvals, node settings, sites, placement (src/cluster/store.ts). */
  cluster: ClusterStore;
  /** Site content tars. */
  content: ContentStore;
  /** Resolves when the cluster generation is no longer `generation`, or after `timeoutMs`, or when `req` closes. */
  waitForChange: (generation: number, timeoutMs: number, req: Request) => Promise<void>;
  /** Seconds between node agent heartbeats. */
  heartbeatSeconds: number;
  /** Gets a site's content tar from another controller when this one lacks it (store.kind etcd); true once it is stored here. */
  fetchContent?: (site: string, content: SiteContent) => Promise<boolean>;
  /** Every live controller's HTTP base, this one first (manifests name them: src/cluster/manifest.ts). */
  controllers?: () => string[];
  /** A node whose heartbeats stop for this long is down. */
  downAfterMs: number;
  /** Told when a heartbeat arrives (the reconciler may act on a node becoming ready). */
  onHeartbeat?: (mac: string) => void;
  /** The balancer's view of a site, when a balancer runs. */
  siteStats?: (site: string) => { rate: number; servers: Array<{ node: string; status: string }> } | undefined;
  /** The balancer config of a kind rendered from the current placement (GET /api/balancer/…). */
  renderBalancer?: (kind: string) => Array<{ path: string; text: string }>;
  adminToken: string;
  nodeSecret: (mac: string) => string;
  validSession?: (cookie: string) => boolean;
  /** The web UI's sessions (src/ui/session.ts); shared by every listener. Default: one per app. */
  sessions?: Sessions;
  /** The built images (the Images page, the event stream). */
  images?: () => readonly StoredImage[];
  /** The balancer's request and error rates over time (GET /api/stats, the Balancer page). */
  balancerHistory?: () => HistoryView;
  /** The rollout as GET /api/rollout shows it, if any: sent on the event stream when given. */
  rollout?: () => unknown;
  /** The web UI's folder (templates/, static/); default the package's ui/. */
  uiDir?: string;
  /** Prometheus metrics (GET /metrics, docs/metrics.md); every request is counted when set. */
  metrics?: HttpMetrics;
  /** Rolling updates (src/controller/rollout-runner.ts). */
  rollouts?: RolloutControl;
}

export interface Route {
  method: 'get' | 'post' | 'delete' | 'put';
  path: string;
  access: Access;
  handler: RequestHandler;
  /**
   * Where it is served: `cluster`, only on the cluster listener (boot files, node routes: the
   * cluster network's business); `any`, also on the admin listeners (docs/networks.md). Default:
   * `any` for admin routes, `cluster` for the rest.
   */
  side?: 'cluster' | 'any';
  /** A web UI page: a browser without a session is sent to /login instead of getting a 401. */
  page?: boolean;
}

/** Which listener an app serves: the cluster one (everything) or an admin-only one. */
export type Listener = 'cluster' | 'admin';

export function servedOn(r: Route, listener: Listener): boolean {
  return listener === 'cluster' || (r.side ?? (r.access === 'admin' ? 'any' : 'cluster')) === 'any';
}

/**
 * The controller's HTTP API. This table is the table of contents: every path the controller
 * serves is registered here and nowhere else, with who may call it (src/http/access.ts);
 * docs/http-api.md documents each, and a test holds the two together.
 */
export function routes(deps: AppDeps): Route[] {
  const sessions = deps.sessions ?? new Sessions();
  return [
    { method: 'get', path: '/healthz', access: 'public', handler: healthz(deps), side: 'any' },
    { method: 'get', path: '/metrics', access: metricsAccess(deps.metrics), handler: metricsRoute(deps.metrics), side: 'any' },
    { method: 'get', path: '/files/*path', access: 'public', handler: bootFile(deps) },
    { method: 'get', path: '/images/:name/:version/*path', access: 'public', handler: imageFile(deps) },
    { method: 'get', path: '/layers/:file', access: 'public', handler: layerFile(deps) },
    { method: 'get', path: '/boot.ipxe', access: 'node-address', handler: ipxeScript(deps) },
    { method: 'get', path: '/api/boot/:mac', access: 'node-address', handler: bootInfo(deps) },
    { method: 'get', path: '/overlay/:mac', access: 'node', handler: nodeOverlay(deps) },
    { method: 'post', path: '/api/nodes/:mac/events', access: 'node', handler: postEvent(deps) },
    { method: 'get', path: '/api/nodes/:mac/manifest', access: 'node', handler: getManifest(deps) },
    { method: 'post', path: '/api/nodes/:mac/heartbeat', access: 'node', handler: postHeartbeat(deps) },
    { method: 'get', path: '/api/nodes/:mac/sites/:site/:version', access: 'node', handler: getSiteContent(deps) },
    { method: 'get', path: '/api/nodes', access: 'admin', handler: listNodes(deps) },
    { method: 'get', path: '/api/nodes/:mac', access: 'admin', handler: getNode(deps) },
    { method: 'delete', path: '/api/nodes/:mac', access: 'admin', handler: forgetNode(deps) },
    { method: 'post', path: '/api/nodes/:mac/approve', access: 'admin', handler: approveNode(deps) },
    { method: 'post', path: '/api/nodes/:mac/settings', access: 'admin', handler: nodeSettings(deps) },
    { method: 'post', path: '/api/nodes/:mac/reboot', access: 'admin', handler: rebootNode(deps) },
    { method: 'post', path: '/api/enrollment', access: 'admin', handler: addEnrollment(deps) },
    { method: 'get', path: '/api/sites', access: 'admin', handler: listSites(deps) },
    { method: 'post', path: '/api/sites', access: 'admin', handler: addSite(deps) },
    { method: 'delete', path: '/api/sites/:name', access: 'admin', handler: removeSite(deps) },
    { method: 'put', path: '/api/sites/:name/content', access: 'admin', handler: putContent(deps) },
    { method: 'get', path: '/api/sites/:name/content/:version', access: 'admin', handler: getContent(deps) },
    { method: 'post', path: '/api/sites/:name/scale', access: 'admin', handler: scale(deps) },
    { method: 'post', path: '/api/sites/:name/assign', access: 'admin', handler: assign(deps, true) },
    { method: 'delete', path: '/api/sites/:name/assign/:mac', access: 'admin', handler: assign(deps, false) },
    { method: 'get', path: '/api/balancer/:kind', access: 'admin', handler: balancerConfig(deps) },
    { method: 'get', path: '/api/stats', access: 'admin', handler: stats(deps) },
    { method: 'get', path: '/api/stream', access: 'admin', handler: eventStream(deps) },
    // The web UI (docs/ui.md): its login form and static files on every listener, the rest admin.
    { method: 'get', path: '/login', access: 'public', handler: loginForm(deps), side: 'any' },
    { method: 'post', path: '/login', access: 'public', handler: login(deps, sessions), side: 'any' },
    { method: 'post', path: '/logout', access: 'admin', handler: logout(sessions), page: true },
    { method: 'get', path: '/ui/static/:file', access: 'public', handler: staticFile(deps), side: 'any' },
    { method: 'get', path: '/ui/vendor/:file', access: 'public', handler: vendorFile(), side: 'any' },
    { method: 'get', path: '/', access: 'admin', handler: uiHome(), page: true },
    { method: 'get', path: '/ui/fleet', access: 'admin', handler: uiPage(deps, 'fleet'), page: true },
    { method: 'get', path: '/ui/sites', access: 'admin', handler: uiPage(deps, 'sites'), page: true },
    { method: 'get', path: '/ui/images', access: 'admin', handler: uiPage(deps, 'images'), page: true },
    { method: 'get', path: '/ui/balancer', access: 'admin', handler: uiPage(deps, 'balancer'), page: true },
    { method: 'post', path: '/api/rollouts', access: 'admin', handler: startRollout(deps) },
    { method: 'get', path: '/api/rollout', access: 'admin', handler: getRollout(deps) },
    { method: 'post', path: '/api/rollout/pause', access: 'admin', handler: rolloutVerb(deps, 'pause') },
    { method: 'post', path: '/api/rollout/resume', access: 'admin', handler: rolloutVerb(deps, 'resume') },
    { method: 'post', path: '/api/rollout/abort', access: 'admin', handler: rolloutVerb(deps, 'abort') },
  ];
}

export function createApp(deps: AppDeps, listener: Listener = 'cluster'): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', 'strong');
  // First, so requests the body parsers refuse are counted too.
  if (deps.metrics) app.use(countRequests(deps.metrics));
  // Small bodies only: nodes post boot events as busybox wget form posts, tools as JSON.
  app.use(express.urlencoded({ extended: false, limit: '8kb' }), express.json({ limit: '64kb' }));
  // One session store for the login route and the access check (a test's app gets its own).
  const sessions = deps.sessions ?? new Sessions();
  const withSessions: AppDeps = { ...deps, sessions, validSession: deps.validSession ?? ((id) => sessions.valid(id)) };
  const access = { ...withSessions, onRefused: (req: Request, why: string) => deps.log.debug({ path: req.path, remote: req.socket.remoteAddress, why }, 'http request refused') };
  for (const r of routes(withSessions).filter((x) => servedOn(x, listener))) {
    const check = guard(r.access, access, { page: r.page === true });
    if (check) app[r.method](r.path, check, r.handler);
    else app[r.method](r.path, r.handler);
  }
  app.use((req: Request, res: Response) => {
    res.status(404).type('text/plain').send(`no route for ${req.method} ${req.path}\n`);
  });
  // A failing request is logged with its cause for the operator and answered tersely.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (status !== undefined && status >= 400 && status < 500) {
      // express's own body parsers: malformed JSON, a body over the limit.
      if (!res.headersSent) res.status(status).type('text/plain').send(`${(err as Error).message}\n`);
      return;
    }
    deps.log.error({ err, path: req.path, remote: req.socket.remoteAddress }, 'http request failed');
    if (!res.headersSent) res.status(500).type('text/plain').send('internal error\n');
  });
  return app;
}
