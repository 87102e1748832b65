import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { chmod, mkdir, rm } from 'node:fs/promises';
import type { Config, RelayedSubnetConfig, Reservation } from '../config.js';
import type { Logger } from '../log.js';
import { BootfleetError, errorMessage } from '../errors.js';
import { NodeRegistry } from '../cluster/nodes.js';
import { nodeState } from '../cluster/node-state.js';
import { DEFAULT_NODE_SETTINGS } from '../cluster/model.js';
import { ClusterStore } from '../cluster/store.js';
import { openStore, type NodeShare, type OpenedStore } from '../store/open.js';
import type { AddressClaims } from '../dhcp/claims.js';
import { Templates } from '../render/templates.js';
import { createApp, type AppDeps } from '../http/app.js';
import { Firewall } from '../net/firewall.js';
import { LeasePool } from '../dhcp/leases.js';
import { DhcpServer, type RelayedSubnet } from '../dhcp/server.js';
import { RouterAdvertResponder } from '../ra/index.js';
import { TftpCache, TftpServer, fileSystemHandler } from '../tftp/index.js';
import type { TftpHandler } from '../tftp/types.js';
import { inSubnet, parseCidr, prefixToMask } from '../net/addr.js';
import { loadSecrets, nodeSecret, type ControllerSecrets } from '../auth/secrets.js';
import { shareSecrets } from '../auth/shared-secrets.js';
import { peerContent } from './peer-content.js';
import type { PolicyContext, MachineSpec } from '../boot/policy.js';
import { loadersDir } from '../images/loaders.js';
import { initramfsClient } from '../boot/firmware.js';
import { BootGlue } from './boot-glue.js';
import { tftpRoutes } from './tftp-routes.js';
import { renderPiFile } from './pi-files.js';
import { ImageCatalog, renderNodeOverlay } from './images.js';
import { ContentStore } from '../cluster/content.js';
import { BalancerService } from './balancer-service.js';
import { ClusterLoop } from './cluster-loop.js';
import { balancerModel } from '../cluster/balancer-model.js';
import type { BalancerKind, BalancerListen, BalancerModel } from '../balancer/model.js';
import { balancerListen } from '../balancer/keepalived/listen.js';
import { Sessions } from '../ui/session.js';
import { ControllerMetrics } from '../metrics/metrics.js';
import { RolloutRunner } from './rollout-runner.js';
import { rolloutView } from '../http/rollout.js';
import { rolloutActive, type Rollout } from '../rollout/types.js';

interface Service {
  name: string;
  listening: boolean;
  stop: () => Promise<void>;
}

/** What every service of one controller run shares. */
interface Parts {
  nodes: NodeRegistry;
  cluster: ClusterStore;
  content: ContentStore;
  balancer: BalancerService | undefined;
  loop: ClusterLoop;
  rollouts: RolloutRunner;
  images: ImageCatalog;
  templates: Templates;
  glue: BootGlue;
  secrets: ControllerSecrets;
  store: OpenedStore;
}

/**
 * The one owner of the controller's lifecycle: `start()` opens DHCP, TFTP and HTTP (and the IPv6
 * RA responder) on the configured interface; if any fails to bind, whatever already started is
 * closed again and the error names the service. `stop()` closes everything and flushes state.
 */
export class Controller {
  readonly httpBase: string;
  /** Prometheus metrics (GET /metrics); rollouts report through `metrics.setRolloutProgress`. */
  readonly metrics = new ControllerMetrics();
  private readonly services: Service[] = [];
  private parts: Parts | undefined;
  private lastRefusalLog = 0;

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.httpBase = `http://${config.controller.address}:${config.controller.httpPort}`;
  }

  /** Every service and whether it listens (GET /healthz). */
  health(): Record<string, boolean> {
    return Object.fromEntries(this.services.map((s) => [s.name, s.listening]));
  }

  async start(): Promise<void> {
    const c = this.config.controller;
    await mkdir(c.stateDir, { recursive: true, mode: 0o700 });
    await mkdir(c.bootDir, { recursive: true });
    // Bound once the store is open: records learned before that are shared with the first flush.
    const sharing: { share?: NodeShare } = {};
    const nodes = await NodeRegistry.open(c.stateDir, { maxNodes: c.maxNodes, onRefused: (mac) => this.refused(mac), onRecord: (n) => this.metrics.bootEvents(n.events), onChange: (n) => sharing.share?.changed(n) });
    const store = await openStore(this.config, this.log, this.httpBase);
    if (store.shareNodes) sharing.share = store.shareNodes(nodes);
    let cluster: ClusterStore;
    let secrets: ControllerSecrets;
    try {
      cluster = await ClusterStore.open(store.state, c.stateDir);
      secrets = await this.secrets(store);
    } catch (err) {
      await store.close();
      throw err;
    }
    const images = await ImageCatalog.open(this.config.images.store, this.log.child({ sub: 'images' }));
    const glue = new BootGlue(nodes, () => this.policyContext(cluster, images), {
      httpBase: this.httpBase,
      dhcpMode: this.config.dhcp.mode === 'proxy' ? 'proxy' : 'full',
      serverAddress: c.address,
    }, this.log.child({ sub: 'boot' }));
    const balancer = this.config.balancer
      ? new BalancerService(this.config.balancer, resolve(c.stateDir, this.config.balancer.dir ?? 'balancer'), this.log.child({ sub: 'balancer' }), { name: store.leadership.name })
      : undefined;
    const loop = new ClusterLoop({
      cluster, nodes, balancer, balancerListen: this.balancerListen(),
      spec: (node) => glue.spec(node),
      downAfterMs: this.config.cluster.downAfterSeconds * 1000,
      epsilon: this.config.cluster.epsilon,
      scale: { ...this.config.cluster.overload, cooldownMs: this.config.cluster.overload.cooldownSeconds * 1000 },
      log: this.log.child({ sub: 'cluster' }),
      leadership: store.leadership,
    });
    this.metrics.setSources({
      nodes: () => nodes.list().map((n) => ({
        state: nodeState(cluster.current.nodes[n.mac] ?? DEFAULT_NODE_SETTINGS, n, Date.now(), this.config.cluster.downAfterSeconds * 1000),
        pending: glue.spec(n).admission === 'pending',
      })),
      ...(balancer ? { balancer: () => balancer.allSiteStats() } : {}),
    });
    const rollouts = await RolloutRunner.open({
      store: store.state, cluster, nodes, balancer, images, spec: (node) => glue.spec(node), facts: () => loop.facts(),
      power: this.config.rollout, log: this.log.child({ sub: 'rollout' }),
      onChange: (r) => this.metrics.setRolloutProgress(rolloutActive(r) ? phaseCounts(r) : undefined),
      leadership: store.leadership,
    });
    this.parts = { nodes, cluster, content: new ContentStore(join(c.stateDir, 'content')), balancer, loop, rollouts, images, templates: new Templates(c.templatesDir), glue, secrets, store };
    try {
      await this.startFirewall();
      await this.startHttp(this.parts);
      await this.startTftp(this.parts);
      await this.startDhcp(glue, store.claims);
      this.startRouterAdvert();
      loop.start();
      rollouts.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info({ interface: c.interface, address: c.address, http: this.httpBase, dhcp: this.config.dhcp.mode, store: store.kind, name: store.leadership.name }, 'controller ready');
  }

  async stop(): Promise<void> {
    await this.parts?.rollouts.stop();
    await this.parts?.loop.stop();
    await this.parts?.balancer?.stop();
    for (const s of this.services.splice(0).reverse()) {
      await s.stop().catch((err: unknown) => this.log.warn({ err, service: s.name }, 'stop failed'));
    }
    this.parts?.images.close();
    await this.parts?.nodes.flush();
    await this.parts?.store.close();
  }

  /** The admin token and node key: this controller's files, or with etcd the ones every controller shares (src/auth/shared-secrets.ts). */
  private async secrets(store: OpenedStore): Promise<ControllerSecrets> {
    const stateDir = this.config.controller.stateDir;
    let secrets = await loadSecrets(stateDir);
    if (store.kind === 'etcd') {
      const shared = await shareSecrets(store.state, stateDir, secrets);
      if (shared.adopted) this.log.info({ stateDir }, 'admin token and node key taken from the shared store (the other controllers use them)');
      secrets = shared;
    }
    if (secrets.adminTokenCreated) {
      // Printed once, at creation; afterwards it is only in the file (mode 0600).
      process.stderr.write(`bootfleet: admin token created in ${join(stateDir, 'admin-token')}: ${secrets.adminToken}\n`);
    }
    return secrets;
  }

  /** The facts the boot policy decides from, as they are now (src/boot/policy.ts). */
  private policyContext(cluster: ClusterStore, images: ImageCatalog): PolicyContext {
    const { boot, images: imagesConfig, nodes, policy } = this.config;
    return {
      httpBase: this.httpBase,
      admit: policy.admit,
      enrolled: cluster.list(),
      configured: new Map(nodes.map((n) => [n.mac, n])),
      assignedImage: (mac) => cluster.current.images[mac],
      ...(imagesConfig.default ? { defaultImage: imagesConfig.default } : {}),
      ...(boot.default ? { bootDefault: boot.default } : {}),
      ipxeFiles: boot.ipxe,
      piBoot: boot.rpi,
      findImage: (ref, arch) => images.find(ref, arch),
    };
  }

  /** The balancer's frontends (src/balancer/keepalived/listen.ts). */
  private balancerListen(): BalancerListen[] {
    const b = this.config.balancer;
    return balancerListen({ listen: b?.listen, vipAddress: b?.vip?.address, controllerAddress: this.config.controller.address });
  }

  private balancerModel(p: Parts, dir: string): BalancerModel {
    return balancerModel(p.cluster.current, (mac) => p.nodes.get(mac)?.ip, { listen: this.balancerListen(), stateDir: dir });
  }

  /** A new MAC beyond controller.maxNodes: refused; logged at most once a minute. */
  private refused(mac: string): void {
    if (Date.now() - this.lastRefusalLog < 60_000) return;
    this.lastRefusalLog = Date.now();
    this.log.warn({ mac, maxNodes: this.config.controller.maxNodes }, 'node registry full: new machines are refused (raise controller.maxNodes or forget old nodes)');
  }

  private nodeOverlay(spec: MachineSpec): Promise<Buffer> {
    return renderNodeOverlay(join(this.config.controller.overlaysDir, this.config.images.nodeOverlay), {
      mac: spec.mac, hostname: spec.hostname, controllerUrl: this.httpBase, image: spec.image,
    });
  }

  private async startHttp(p: Parts): Promise<void> {
    const c = this.config.controller;
    const deps: AppDeps = {
      log: this.log.child({ sub: 'http' }),
      nodes: p.nodes,
      templates: p.templates,
      bootDir: c.bootDir,
      httpBase: this.httpBase,
      health: () => this.health(),
      spec: (node, arch) => p.glue.spec(node, arch),
      imageDir: (name, version) => p.images.imageDir(name, version),
      layersDir: p.images.layersDir(),
      nodeOverlay: (spec) => this.nodeOverlay(spec),
      cluster: p.cluster,
      content: p.content,
      waitForChange: (generation, timeoutMs, req) => waitForChange(p.cluster, generation, timeoutMs, req),
      heartbeatSeconds: this.config.cluster.heartbeatSeconds,
      controllers: () => p.store.controllers(),
      ...(p.store.kind === 'etcd' ? { fetchContent: peerContent({ content: p.content, peers: () => p.store.controllers().slice(1), adminToken: p.secrets.adminToken, log: this.log.child({ sub: 'peer-content' }) }) } : {}),
      downAfterMs: this.config.cluster.downAfterSeconds * 1000,
      onHeartbeat: () => p.loop.kick(),
      ...(p.balancer ? {
        siteStats: (site: string) => p.balancer?.siteStats(site),
        renderBalancer: (kind: string) => (p.balancer ? p.balancer.render(kind as BalancerKind, this.balancerModel(p, p.balancer.dir)) : []),
      } : {}),
      rollouts: p.rollouts,
      rollout: () => {
        const r = p.rollouts.current();
        return r ? rolloutView(r) : null;
      },
      adminToken: p.secrets.adminToken,
      nodeSecret: (mac) => nodeSecret(p.secrets.nodeKey, mac),
      // One web UI session store for the cluster listener and every admin listener.
      sessions: new Sessions(),
      images: () => p.images.all(),
      ...(p.balancer ? { balancerHistory: () => p.balancer?.rateHistory() ?? { resolutionSeconds: 5, windowSeconds: 900, t: [], sites: {}, nodes: {} } } : {}),
      metrics: {
        render: () => this.metrics.render(),
        httpRequest: (method, route, status) => this.metrics.httpRequest(method, route, status),
        requireToken: this.config.metrics.requireToken,
      },
    };
    const app = createApp(deps);
    await this.serve(createServer(app), c.address, c.httpPort, 'http');
    // Admin-only listeners (docs/networks.md): the admin API and UI, never node routes or boot files.
    for (const l of this.config.admin.listen ?? []) {
      if (l.startsWith('unix:')) {
        // A unix socket (mode 0600): the admin API and UI for this machine only, e.g. through a
        // local proxy or `curl --unix-socket`, whatever network namespace the controller runs in.
        const path = l.slice('unix:'.length);
        await rm(path, { force: true });
        await this.serve(createServer(createApp(deps, 'admin')), path, undefined, `admin ${l}`);
        await chmod(path, 0o600);
        continue;
      }
      const [address = '', port = ''] = l.split(':');
      if (address === c.address && Number(port) === c.httpPort) continue;
      await this.serve(createServer(createApp(deps, 'admin')), address, Number(port), `admin ${l}`);
    }
  }

  private async serve(server: Server, address: string, port: number | undefined, name: string): Promise<void> {
    await listen(server, port, address, name);
    this.services.push({ name, listening: true, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) });
  }

  /** Keeps the outside network away from the cluster side, and lets nodes out with NAT (src/net/firewall.ts). */
  private async startFirewall(): Promise<void> {
    const c = this.config.controller;
    if (!c.outsideInterface) {
      // A table left by a run that had an outside network (or was killed) must not outlive it.
      await Firewall.clear();
      return;
    }
    const firewall = new Firewall({ cluster: { interface: c.interface, address: c.address, prefix: c.prefix, routed: this.config.dhcp.relays.map((r) => r.subnet) }, outside: { interface: c.outsideInterface }, nat: c.nat });
    await firewall.apply();
    this.log.info({ outside: c.outsideInterface, nat: c.nat }, 'firewall between the cluster and the outside network in place');
    this.services.push({ name: 'firewall', listening: true, stop: () => firewall.remove() });
  }

  private async startTftp(p: Parts): Promise<void> {
    const c = this.config.controller;
    const log = this.log.child({ sub: 'tftp' });
    const limits = this.config.tftp;
    // One memory budget for every folder served and the netascii forms (docs/tftp.md "Limits").
    const cache = new TftpCache(limits.cacheMiB * 1024 * 1024);
    const filesIn = (dir: string): TftpHandler => fileSystemHandler(dir, { cache });
    const piFallback = filesIn(join(c.bootDir, 'rpi'));
    const piHandlers = new Map<string, TftpHandler>();
    const handler = tftpRoutes({
      machine: (client, prefix) => {
        const node = p.glue.tftpNode(client.address, prefix);
        return 'refused' in node ? node : p.glue.spec(node);
      },
      rootFiles: firstFound(filesIn(c.bootDir), filesIn(loadersDir(this.config.images.store))),
      // Each Pi gets the rpi/ files of its own image's arm64 build; what the build lacks, bootDir/rpi.
      piFiles: async (spec, file, client) => {
        const dir = spec.pi?.filesDir;
        let own = dir === undefined ? undefined : piHandlers.get(dir);
        if (dir !== undefined && !own) piHandlers.set(dir, (own = filesIn(dir)));
        return (await own?.(file, client)) ?? piFallback(file, client);
      },
      renderPi: (spec, name, prefix) => renderPiFile(p.templates, name, { serial: prefix, httpBase: this.httpBase, boot: spec.pi?.boot ?? this.config.boot.rpi }),
      onRefused: (client, path, why) => log.info({ client: client.address, path, why }, 'tftp request refused'),
    });
    const tftp = new TftpServer({
      address: c.address,
      port: c.tftpPort,
      handler,
      cache,
      maxTransfers: limits.maxTransfers,
      maxTransfersPerClient: limits.maxTransfersPerClient,
      maxTimeoutSeconds: limits.maxTimeoutSeconds,
      log,
      onEvent: (e) => {
        if (e.type === 'complete') p.glue.tftpComplete(e.client.address, e.path);
      },
    });
    await wrapBind('tftp', () => tftp.start());
    this.metrics.setSources({ tftp: () => tftp.stats });
    this.services.push({ name: 'tftp', listening: true, stop: () => tftp.stop() });
  }

  private async startDhcp(glue: BootGlue, claims: AddressClaims | undefined): Promise<void> {
    const { controller: c, dhcp } = this.config;
    if (dhcp.mode === 'off') return;
    const pool = dhcp.mode === 'full' && dhcp.range
      ? await LeasePool.open({
        range: dhcp.range,
        reservations: reservationsIn(dhcp.reservations, c.address, c.prefix),
        leaseSeconds: dhcp.leaseSeconds,
        stateDir: c.stateDir,
      })
      : undefined;
    const relays = await Promise.all(dhcp.relays.map((r) => this.relayedSubnet(r)));
    const server = new DhcpServer({
      interface: c.interface,
      serverAddress: c.address,
      subnetMask: prefixToMask(c.prefix),
      mode: dhcp.mode,
      pool,
      relays,
      ...(claims ? { claims } : {}),
      // With NAT the controller is the nodes' way out: their default route, unless one is set.
      router: dhcp.router ?? (c.nat ? c.address : undefined),
      dns: dhcp.dns,
      domain: dhcp.domain,
      leaseSeconds: dhcp.leaseSeconds,
      log: this.log.child({ sub: 'dhcp' }),
      boot: (req) => glue.dhcpAnswer(req),
      onEvent: (e) => {
        this.metrics.dhcpMessage(e.type);
        if ((e.type === 'ack' || e.type === 'offer') && e.ip) glue.addressOf(e.mac, e.ip);
        // In proxy mode the router leases the address; the client's own broadcast REQUEST names
        // it (option 50, RFC 2131 §4.3.2), which is how TFTP and HTTP requests map to nodes.
        if (dhcp.mode === 'proxy' && e.type === 'request' && e.ip) {
          // Our initramfs is no PXE client, so the proxy never answers it; a directly booted node
          // is first seen here.
          if (initramfsClient({ vendorClass: e.vendorClass })) glue.observe(e.mac, { mac: e.mac, vendorClass: e.vendorClass ?? '', userClasses: [], arch: undefined, clientUuid: undefined });
          glue.addressOf(e.mac, e.ip);
        }
      },
    });
    await wrapBind('dhcp', () => server.start());
    this.metrics.setSources({ dhcp: () => server.stats });
    this.services.push({ name: 'dhcp', listening: true, stop: () => server.stop() });
  }

  /** A dhcp.relays entry as the DHCP server serves it: its own pool, in its own lease file. */
  private async relayedSubnet(r: RelayedSubnetConfig): Promise<RelayedSubnet> {
    const { controller: c, dhcp } = this.config;
    const cidr = parseCidr(r.subnet);
    if (!cidr) throw new BootfleetError('ERR_CONFIG_INVALID', `dhcp.relays: ${r.subnet} is not a subnet like 198.19.1.0/24`);
    const { address: network, prefix } = cidr;
    const pool = await LeasePool.open({
      range: r.range,
      reservations: reservationsIn(dhcp.reservations, network, prefix),
      leaseSeconds: dhcp.leaseSeconds,
      stateDir: c.stateDir,
      fileName: `leases-${network}-${prefix}.json`,
    });
    this.log.info({ subnet: r.subnet, range: r.range, router: r.router }, 'DHCP serves a subnet through relay agents');
    return { network, prefix, pool, router: r.router, dns: r.dns ?? dhcp.dns };
  }

  /**
   * iPXE waits ~13 s for an IPv6 router advertisement that never comes on an IPv4-only LAN; a
   * lifetime-0 RA with no prefix (no route, no address for anyone) answers it at once
   * (docs/benchmarks.md, PXE).
   */
  private startRouterAdvert(): void {
    if (!this.config.dhcp.routerAdvertisement || this.config.dhcp.mode === 'off') return;
    const ra = new RouterAdvertResponder({ interface: this.config.controller.interface, log: this.log.child({ sub: 'ra' }) });
    try {
      ra.start();
    } catch (err) {
      throw new BootfleetError('ERR_BIND_FAILED', `ra: cannot answer router solicitations on ${this.config.controller.interface}: ${errorMessage(err)}`, { cause: err });
    }
    this.services.push({ name: 'ra', listening: true, stop: async () => ra.stop() });
  }
}

/** Resolves once the cluster's generation is not `generation` any more, after `timeoutMs`, or when the request closes. */
function waitForChange(cluster: ClusterStore, generation: number, timeoutMs: number, req: IncomingMessage): Promise<void> {
  if (cluster.current.generation !== generation) return Promise.resolve();
  return new Promise((resolveWait) => {
    const done = (): void => {
      clearTimeout(timer);
      off();
      req.socket.off('close', done);
      resolveWait();
    };
    const timer = setTimeout(done, timeoutMs);
    const off = cluster.onChange((s) => {
      if (s.generation !== generation) done();
    });
    req.socket.once('close', done);
  });
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

/** Listens on address:port, or on the unix socket `address` when there is no port. */
function listen(server: Server, port: number | undefined, address: string, name: string): Promise<void> {
  return wrapBind(name, () => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (port === undefined) server.listen(address, ready);
    else server.listen(port, address, ready);
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

/** How many of a rollout's nodes are in each phase (the bootfleet_rollout_nodes gauge). */
function phaseCounts(r: Rollout): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of r.nodes) counts[n.phase] = (counts[n.phase] ?? 0) + 1;
  return counts;
}

/** Each lease pool gets the reservations inside its own subnet (MAC → address). */
function reservationsIn(reservations: readonly Reservation[], network: string, prefix: number): Record<string, string> {
  return Object.fromEntries(reservations.filter((r) => inSubnet(r.address, network, prefix)).map((r) => [r.mac, r.address]));
}
