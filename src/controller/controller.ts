import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { BootfleetError } from '../errors.js';
import { NodeRegistry } from '../cluster/nodes.js';
import { Templates } from '../render/templates.js';
import { createApp } from '../http/app.js';
import { LeasePool } from '../dhcp/leases.js';
import { DhcpServer } from '../dhcp/server.js';
import { RouterAdvertResponder } from '../ra/index.js';
import { TftpCache, TftpServer, fileSystemHandler } from '../tftp/index.js';
import { prefixToMask } from '../net/addr.js';
import { BootGlue } from './boot-glue.js';
import { tftpRoutes } from './tftp-routes.js';
import { renderPiFile } from './pi-files.js';
import { ImageCatalog, renderNodeOverlay, piBootFiles } from './images.js';
import { EnrollmentWatch } from '../cluster/enrollment.js';
import { loadersDir } from '../images/loaders.js';
import type { TftpHandler } from '../tftp/types.js';

interface Service {
  name: string;
  listening: boolean;
  stop: () => Promise<void>;
}

/**
 * The one owner of the controller's lifecycle: `start()` opens DHCP, TFTP and HTTP (and the IPv6
 * RA responder) on the configured interface; if any fails to bind, whatever already started is
 * closed again and the error names the service. `stop()` closes everything and flushes state.
 */
export class Controller {
  readonly httpBase: string;
  private readonly services: Service[] = [];
  private nodes: NodeRegistry | undefined;

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.httpBase = `http://${config.controller.address}:${config.controller.httpPort}`;
  }

  /** Every service and whether it listens (GET /healthz). */
  health(): Record<string, boolean> {
    return Object.fromEntries(this.services.map((s) => [s.name, s.listening]));
  }

  async start(): Promise<void> {
    const c = this.config.controller;
    await mkdir(c.stateDir, { recursive: true });
    await mkdir(c.bootDir, { recursive: true });
    const nodes = await NodeRegistry.open(c.stateDir);
    this.nodes = nodes;
    const templates = new Templates(c.templatesDir);
    const glue = new BootGlue(this.config, {
      httpBase: this.httpBase,
      ipxeFiles: this.config.boot.ipxe,
      dhcpMode: this.config.dhcp.mode === 'proxy' ? 'proxy' : 'full',
    }, nodes, this.log.child({ sub: 'boot' }));
    try {
      const assignments = new Map(this.config.nodes.filter((n) => n.image).map((n) => [n.mac, n.image ?? '']));
      const images = new ImageCatalog(this.config.images.store, assignments, this.config.images.default, nodes, this.log.child({ sub: 'images' }));
      const enrollment = new EnrollmentWatch(this.config.controller.stateDir);
      await this.startHttp(nodes, templates, glue, images, enrollment);
      await this.startTftp(templates, glue, images, enrollment);
      await this.startDhcp(glue);
      this.startRouterAdvert();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info({ interface: c.interface, address: c.address, http: this.httpBase, dhcp: this.config.dhcp.mode }, 'controller ready');
  }

  async stop(): Promise<void> {
    for (const s of this.services.splice(0).reverse()) {
      await s.stop().catch((err: unknown) => this.log.warn({ err, service: s.name }, 'stop failed'));
    }
    await this.nodes?.flush();
  }

  private hostnameFor(mac: string): string {
    return this.config.nodes.find((n) => n.mac === mac)?.hostname ?? `node-${mac.replaceAll(':', '')}`;
  }

  private async startHttp(nodes: NodeRegistry, templates: Templates, glue: BootGlue, images: ImageCatalog, enrollment: EnrollmentWatch): Promise<void> {
    const c = this.config.controller;
    const app = createApp({
      log: this.log.child({ sub: 'http' }),
      nodes,
      templates,
      bootDir: c.bootDir,
      httpBase: this.httpBase,
      bootTargetFor: () => this.config.boot.default,
      health: () => this.health(),
      onScriptServed: (mac) => glue.scriptServed(mac),
      imageFor: (mac, arch) => images.imageFor(mac, arch),
      enrolled: () => enrollment.current(),
      imageDir: (name, version) => images.imageDir(name, version),
      hostnameFor: (mac) => this.hostnameFor(mac),
      nodeOverlay: async (mac) => renderNodeOverlay(join(c.overlaysDir, this.config.images.nodeOverlay), {
        mac,
        hostname: this.hostnameFor(mac),
        controllerUrl: this.httpBase,
        image: await images.imageFor(mac),
      }),
    });
    const server: Server = createServer(app);
    await listen(server, c.httpPort, c.address, 'http');
    this.services.push({ name: 'http', listening: true, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) });
  }

  private async startTftp(templates: Templates, glue: BootGlue, images: ImageCatalog, enrollment: EnrollmentWatch): Promise<void> {
    const c = this.config.controller;
    const limits = this.config.tftp;
    // One memory budget for every folder served and the netascii forms (docs/tftp.md "Limits").
    const cache = new TftpCache(limits.cacheMiB * 1024 * 1024);
    const filesIn = (dir: string): TftpHandler => fileSystemHandler(dir, { cache });
    const handler = tftpRoutes({
      rootFiles: firstFound(filesIn(c.bootDir), filesIn(loadersDir(this.config.images.store))),
      piFiles: piBootFiles(images, glue, filesIn(join(c.bootDir, 'rpi')), filesIn),
      renderPi: (name, pi) => renderPiFile(templates, name, { serial: pi.serial, httpBase: this.httpBase, boot: this.config.boot.rpi }),
      onPiRequest: (r) => glue.piRequest(r.prefix, r.client.address, r.file),
      admit: async (r) => glue.admit(r.prefix, r.client.address, await enrollment.current()),
    });
    const tftp = new TftpServer({
      address: c.address,
      port: c.tftpPort,
      handler,
      cache,
      maxTransfers: limits.maxTransfers,
      maxTransfersPerClient: limits.maxTransfersPerClient,
      maxTimeoutSeconds: limits.maxTimeoutSeconds,
      log: this.log.child({ sub: 'tftp' }),
      onEvent: (e) => {
        if (e.type === 'complete') glue.tftpComplete(e.client.address, e.path);
      },
    });
    await wrapBind('tftp', () => tftp.start());
    this.services.push({ name: 'tftp', listening: true, stop: () => tftp.stop() });
  }

  private async startDhcp(glue: BootGlue): Promise<void> {
    const { controller: c, dhcp } = this.config;
    if (dhcp.mode === 'off') return;
    const pool = dhcp.mode === 'full' && dhcp.range
      ? await LeasePool.open({
        range: dhcp.range,
        reservations: Object.fromEntries(dhcp.reservations.map((r) => [r.mac, r.address])),
        leaseSeconds: dhcp.leaseSeconds,
        stateDir: c.stateDir,
      })
      : undefined;
    const server = new DhcpServer({
      interface: c.interface,
      serverAddress: c.address,
      subnetMask: prefixToMask(c.prefix),
      mode: dhcp.mode,
      pool,
      router: dhcp.router,
      dns: dhcp.dns,
      domain: dhcp.domain,
      leaseSeconds: dhcp.leaseSeconds,
      log: this.log.child({ sub: 'dhcp' }),
      boot: (req) => glue.dhcpAnswer(req),
      onEvent: (e) => {
        if ((e.type === 'ack' || e.type === 'offer') && e.ip) glue.addressOf(e.mac, e.ip);
        // In proxy mode the router leases the address; the client's own broadcast REQUEST names
        // it (option 50, RFC 2131 §4.3.2), which is how TFTP and HTTP requests map to nodes.
        if (dhcp.mode === 'proxy' && e.type === 'request' && e.ip) glue.addressOf(e.mac, e.ip);
      },
    });
    await wrapBind('dhcp', () => server.start());
    this.services.push({ name: 'dhcp', listening: true, stop: () => server.stop() });
  }

  /**
   * iPXE waits ~13 s for an IPv6 router advertisement that never comes on an IPv4-only LAN; a
   * lifetime-0 RA with no prefix (no route, no address for anyone) answers it at once
   * (DESIGN.md "Boot speed").
   */
  private startRouterAdvert(): void {
    if (!this.config.dhcp.routerAdvertisement || this.config.dhcp.mode === 'off') return;
    const ra = new RouterAdvertResponder({ interface: this.config.controller.interface, log: this.log.child({ sub: 'ra' }) });
    try {
      ra.start();
    } catch (err) {
      throw new BootfleetError('ERR_BIND_FAILED', `ra: cannot answer router solicitations on ${this.config.controller.interface}: ${(err as Error).message}`, { cause: err });
    }
    this.services.push({ name: 'ra', listening: true, stop: async () => ra.stop() });
  }
}

/** A handler that asks each in turn: bootDir wins, so an operator's own iPXE build replaces Debian's. */
function firstFound(...handlers: TftpHandler[]): TftpHandler {
  return async (path, client) => {
    for (const h of handlers) {
      const file = await h(path, client);
      if (file) return file;
    }
    return undefined;
  };
}

function listen(server: Server, port: number, address: string, name: string): Promise<void> {
  return wrapBind(name, () => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  }));
}

async function wrapBind(name: string, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (err) {
    if (err instanceof BootfleetError) throw err;
    throw new BootfleetError('ERR_BIND_FAILED', `${name}: cannot listen: ${(err as Error).message}`, { cause: err });
  }
}
