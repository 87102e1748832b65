import { readFile } from 'node:fs/promises';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, BootfleetError } from './errors.js';
import { isIPv4, ipToInt, inSubnet, networkAddress, normalizeMac, parseCidr } from './net/addr.js';
import { IMAGE_REF } from './images/store.js';
import { HOSTNAME, HOSTNAME_RULE } from './boot/hostname.js';
import { DEFAULT_MAX_NODES } from './cluster/nodes.js';
import { DEFAULT_MAX_TIMEOUT_SECONDS, DEFAULT_MAX_TRANSFERS, DEFAULT_MAX_TRANSFERS_PER_CLIENT } from './tftp/limits.js';
import { DEFAULT_CACHE_BYTES } from './tftp/cache.js';

const ipv4 = z.string().refine(isIPv4, { message: 'must be an IPv4 address like 198.18.0.1' });
const mac = z.string().refine((s) => normalizeMac(s) !== undefined, {
  message: 'must be a MAC address like 52:54:00:12:34:56',
}).transform((s) => normalizeMac(s) as string);
const port = z.number().int().min(1).max(65535);

const reservation = z.object({
  mac,
  address: ipv4,
  hostname: z.string().regex(HOSTNAME, HOSTNAME_RULE).optional(),
}).strict();

/**
 * A subnet whose machines reach the controller through a DHCP relay agent (docs/networks.md
 * "Racks on other subnets (DHCP relay)"): the relay puts its address on that subnet in giaddr,
 * which picks this entry (RFC 2131 §4.3.1).
 */
const relayedSubnet = z.object({
  /** `network/prefix`, e.g. 198.19.1.0/24. */
  subnet: z.string().refine((s) => parseCidr(s) !== undefined, { message: 'must be a subnet like 198.19.1.0/24' }),
  /** Inclusive [first, last] addresses leased on that subnet. */
  range: z.tuple([ipv4, ipv4]),
  /** The clients' default route on that subnet (normally the relay's router): the way to the controller. */
  router: ipv4,
  /** Default dhcp.dns. */
  dns: z.array(ipv4).optional(),
}).strict();

/** A static node entry: boot preferences that are policy, not protocol. */
const nodeEntry = z.object({
  mac,
  hostname: z.string().regex(HOSTNAME, HOSTNAME_RULE).optional(),
  /**
   * Replace the NIC's own iPXE with the controller's (Debian's) iPXE over TFTP before running the
   * script, as a BIOS PXE ROM would: useful for NIC ROMs whose built-in iPXE lacks features.
   */
  chainloadIpxe: z.boolean().default(false),
  /** The image this node boots, `name` (newest build) or `name@version`; default images.default. */
  image: z.string().regex(IMAGE_REF, 'must be an image name like tiny-web, optionally @<version>').optional(),
}).strict();

const bootTarget = z.object({
  kernel: z.string().min(1),
  initrd: z.array(z.string().min(1)).default([]),
  cmdline: z.string().default(''),
}).strict();

const PI_DEFAULTS = { kernel: 'kernel8.img', initramfs: 'initramfs8', deviceTree: '', cmdline: '' };
const piBoot = z.object({
  kernel: z.string().min(1).default(PI_DEFAULTS.kernel),
  initramfs: z.string().min(1).default(PI_DEFAULTS.initramfs),
  /** Empty: let the firmware pick the board's dtb. */
  deviceTree: z.string().default(''),
  cmdline: z.string().default(''),
}).strict();

/** TFTP resource caps against floods and misbehaving clients; why these defaults: docs/tftp.md "Limits". */
const TFTP_DEFAULTS = {
  maxTransfers: DEFAULT_MAX_TRANSFERS,
  maxTransfersPerClient: DEFAULT_MAX_TRANSFERS_PER_CLIENT,
  maxTimeoutSeconds: DEFAULT_MAX_TIMEOUT_SECONDS,
  cacheMiB: DEFAULT_CACHE_BYTES / (1024 * 1024),
};
const tftpLimits = z.object({
  /** Transfers running at once over all clients; more get error 0 "Server busy". */
  maxTransfers: z.number().int().min(1).max(65536).default(TFTP_DEFAULTS.maxTransfers),
  /** Transfers running at once from one client address. */
  maxTransfersPerClient: z.number().int().min(1).max(65536).default(TFTP_DEFAULTS.maxTransfersPerClient),
  /** Largest RFC 2349 `timeout` option accepted (the RFC allows 1..255 s); larger ones are refused. */
  maxTimeoutSeconds: z.number().int().min(1).max(255).default(TFTP_DEFAULTS.maxTimeoutSeconds),
  /** One in-memory budget for served file contents, shared by every TFTP handler. */
  cacheMiB: z.number().int().min(0).max(1024 * 1024).default(TFTP_DEFAULTS.cacheMiB),
}).strict();

const endpoint = z.string().regex(/^http:\/\/[^\s/]+$/, 'must be a URL like http://198.18.0.11:2379 (TLS to etcd is not supported yet: docs/scale-out.md)');
const STORE_DEFAULTS = { kind: 'file' as const, prefix: '/bootfleet/', leaseTtlSeconds: 5, dialTimeoutSeconds: 5 };
/**
 * The balancer pair's virtual address (docs/balancer.md "Balancer pair (VRRP)"): keepalived moves
 * it between the controllers, each running its own HAProxy rendered from the shared placement.
 */
const vipSchema = z.object({
  /** The virtual address with its prefix length, e.g. 198.18.0.100/24. */
  address: z.string().refine((s) => (parseCidr(s)?.prefix ?? 0) >= 1, { message: 'must be an IPv4 address with its prefix length, like 198.18.0.100/24' }),
  /** The interface the address is added to and VRRP adverts are sent on. */
  interface: z.string().min(1).max(15),
  /** VRRP virtual router id (RFC 5798 VRID), 1–255: the same on both controllers, unique on the LAN. */
  routerId: z.number().int().min(1).max(255),
  /** 1–254: with both alike the higher primary address wins an election; no preemption either way. */
  priority: z.number().int().min(1).max(254).default(100),
  /** The keepalived binary. */
  binary: z.string().min(1).default('keepalived'),
}).strict();

const storeSchema = z.object({
  kind: z.enum(['file', 'etcd']).default(STORE_DEFAULTS.kind),
  /** etcd client URLs, one per member (all of them: the client moves to another when one fails). */
  endpoints: z.array(endpoint).min(1).optional(),
  /** Every key bootfleet writes starts with this (several fleets may share one etcd). */
  prefix: z.string().regex(/^\/([a-z0-9_-]+\/)+$/, 'must look like /bootfleet/ (a leading and a trailing slash)').default(STORE_DEFAULTS.prefix),
  /** The leader's etcd lease: when it stops renewing it (dead, cut off), another controller leads after at most this long. */
  leaseTtlSeconds: z.number().int().min(2).max(300).default(STORE_DEFAULTS.leaseTtlSeconds),
  /** How long a start waits for etcd, and how long one request may take, before it is an error. */
  dialTimeoutSeconds: z.number().min(1).max(120).default(STORE_DEFAULTS.dialTimeoutSeconds),
}).strict();

const schema = z.object({
  controller: z.object({
    interface: z.string().min(1).max(15),
    address: ipv4,
    prefix: z.number().int().min(8).max(30).default(24),
    httpPort: port.default(8080),
    tftpPort: port.default(69),
    stateDir: z.string().min(1).default('./var'),
    /** Files served read-only over TFTP and under HTTP /files/ (iPXE binaries, Pi firmware, kernels). */
    bootDir: z.string().min(1).optional(),
    /** Templates for iPXE scripts and Pi config.txt/cmdline.txt. */
    templatesDir: z.string().min(1).optional(),
    /** Where overlays/<name>/ live; default the package's overlays/. */
    overlaysDir: z.string().min(1).optional(),
    /** New MACs beyond this many are refused and logged (docs/security.md). */
    maxNodes: z.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_NODES),
    /**
     * The controller's outside network (home/office LAN, docs/networks.md): nothing of the
     * cluster side is reachable through it; only admin.listen and balancer.listen face it.
     */
    outsideInterface: z.string().min(1).max(15).optional(),
    /** Let nodes reach the outside network through the controller (nftables masquerade out of outsideInterface). */
    nat: z.boolean().default(false),
    /** This controller's name among several sharing one store (store.kind etcd); default `<hostname>-<address>`. */
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'must be lower-case letters, digits, dots and dashes, like ctl-a').optional(),
  }).strict(),
  /** Where the cluster state lives: files in stateDir (one controller) or etcd (several; docs/scale-out.md). */
  store: storeSchema.default(STORE_DEFAULTS),
  /** Where the admin API and web UI listen, `address:port`; default the cluster listener (controller.address:httpPort). */
  admin: z.object({
    listen: z.array(z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}:\d{1,5}|unix:\/\S+)$/, 'must be address:port (e.g. 203.0.113.5:8443) or unix:/path/to/socket')).min(1).optional(),
  }).strict().default({}),
  /** Which machines boot without approval (docs/security.md): Pis wait for `node add`, PCs boot. */
  policy: z.object({
    admit: z.object({
      rpi: z.enum(['approve', 'open']).default('approve'),
      pc: z.enum(['approve', 'open']).default('open'),
    }).strict().default({ rpi: 'approve', pc: 'open' }),
  }).strict().default({ admit: { rpi: 'approve', pc: 'open' } }),
  dhcp: z.object({
    mode: z.enum(['full', 'proxy', 'off']).default('full'),
    range: z.tuple([ipv4, ipv4]).optional(),
    leaseSeconds: z.number().int().min(60).max(7 * 86400).default(3600),
    router: ipv4.optional(),
    dns: z.array(ipv4).default([]),
    domain: z.string().optional(),
    reservations: z.array(reservation).default([]),
    /** Subnets served through DHCP relay agents (full mode); each has its own range and router. */
    relays: z.array(relayedSubnet).default([]),
    /** Answer IPv6 router solicitations with a lifetime-0 RA so iPXE stops waiting (docs/boot-flow.md "Boot speed"). */
    routerAdvertisement: z.boolean().default(true),
  }).strict().default({ mode: 'full', leaseSeconds: 3600, dns: [], reservations: [], relays: [], routerAdvertisement: true }),
  boot: z.object({
    /** TFTP file names (relative to bootDir) per firmware. */
    ipxe: z.object({
      bios: z.string().default('undionly.kpxe'),
      efiX64: z.string().default('snponly.efi'),
      efiArm64: z.string().default('ipxe-arm64.efi'),
    }).strict().default({ bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' }),
    /** What the iPXE script boots when a node has nothing more specific. Paths are under bootDir. */
    default: bootTarget.optional(),
    /** What a Pi's rendered config.txt names; the files live in bootDir/rpi/. */
    rpi: piBoot.default(PI_DEFAULTS),
  }).strict().default({ ipxe: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' }, rpi: PI_DEFAULTS }),
  images: z.object({
    /** The image store (`bootfleet image build --store`); default <stateDir>/images. */
    store: z.string().min(1).optional(),
    /** The image every node boots unless `nodes[].image` says otherwise. */
    default: z.string().min(1).optional(),
    /** Per-node overlays rendered at boot (overlays/<name>/); default `node`. */
    nodeOverlay: z.string().min(1).default('node'),
  }).strict().default({ nodeOverlay: 'node' }),
  nodes: z.array(nodeEntry).default([]),
  /** The web cluster: how nodes are watched and sites placed (docs/configuration.md). */
  cluster: z.object({
    /** Seconds between node agent heartbeats. */
    heartbeatSeconds: z.number().int().min(1).max(60).default(2),
    /** A node whose heartbeats stop this long is down and its sites move. */
    downAfterSeconds: z.number().min(2).max(600).default(6),
    /** Headroom over a node's fair share of load before it counts as full (placement's ε). */
    epsilon: z.number().min(0.05).max(2).default(0.25),
    /** Overload help (docs/placement.md): add nodes above high × capacity, remove one below low × capacity, not within cooldownSeconds of the last change. */
    overload: z.object({
      high: z.number().min(0.1).max(1).default(0.8),
      low: z.number().min(0.01).max(0.9).default(0.4),
      cooldownSeconds: z.number().min(0).max(86_400).default(300),
    }).strict().default({ high: 0.8, low: 0.4, cooldownSeconds: 300 }),
  }).strict().default({ heartbeatSeconds: 2, downAfterSeconds: 6, epsilon: 0.25, overload: { high: 0.8, low: 0.4, cooldownSeconds: 300 } }),
  /** The load balancer rendered from the placement (docs/balancer.md). Absent: none. */
  balancer: z.object({
    kind: z.enum(['haproxy', 'nginx', 'apache', 'pen', 'keepalived']).default('haproxy'),
    /** managed: the controller runs HAProxy itself; render-only: it writes the config for one run elsewhere. */
    mode: z.enum(['managed', 'render-only']).default('managed'),
    /** Where the frontends listen, `address:port`; default the controller's address, port 80. */
    listen: z.array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/, 'must be address:port, e.g. 198.18.0.1:80')).min(1).optional(),
    /** Config, sockets and state of the balancer; default <stateDir>/balancer. */
    dir: z.string().min(1).optional(),
    /** The haproxy binary (managed mode). */
    binary: z.string().min(1).default('haproxy'),
    /** A virtual address keepalived (VRRP) keeps on one of several controllers (managed mode). */
    vip: vipSchema.optional(),
  }).strict().optional(),
  tftp: tftpLimits.default(TFTP_DEFAULTS),
  /** GET /metrics (docs/metrics.md): counts and durations, readable without the admin token unless requireToken. */
  metrics: z.object({
    requireToken: z.boolean().default(false),
  }).strict().default({ requireToken: false }),
  /** Rolling updates (docs/rollout.md): how nodes are rebooted. */
  rollout: z.object({
    /** agent: the node agent reboots on request; ssh: `ssh <sshUser>@<ip> reboot`; command: `command` below. A node's `power` label overrides it. */
    power: z.enum(['agent', 'ssh', 'command']).default('agent'),
    /** The command driver's shell command (BOOTFLEET_MAC, BOOTFLEET_IP, BOOTFLEET_HOSTNAME set), e.g. `clusterctrl off p$N; sleep 2; clusterctrl on p$N`. */
    command: z.string().min(1).optional(),
    sshUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'must be a user name').default('root'),
  }).strict().default({ power: 'agent', sshUser: 'root' }),
}).strict();

export type BalancerConfig = NonNullable<z.infer<typeof schema>['balancer']>;
export type VipConfig = NonNullable<BalancerConfig['vip']>;
export type StoreConfig = z.infer<typeof schema>['store'];

export type Config = z.infer<typeof schema> & {
  controller: z.infer<typeof schema>['controller'] & { bootDir: string; templatesDir: string; stateDir: string; overlaysDir: string };
  images: z.infer<typeof schema>['images'] & { store: string };
};
export type NodeEntry = z.infer<typeof nodeEntry>;
export type Reservation = z.infer<typeof reservation>;
export type RelayedSubnetConfig = z.infer<typeof relayedSubnet>;
export type BootTarget = z.infer<typeof bootTarget>;
export type PiBoot = z.infer<typeof piBoot>;

export type ParseResult = { ok: true; config: Config } | { ok: false; errors: string[] };

/**
 * Validates a parsed YAML/JSON document. Every error starts with the dotted key to fix. Relative
 * paths resolve against `baseDir` (the config file's directory).
 */
export function parseConfig(input: unknown, baseDir: string, packageDir: string): ParseResult {
  const result = schema.safeParse(input);
  if (!result.success) {
    return { ok: false, errors: result.error.issues.map(formatIssue) };
  }
  const c = result.data;
  const errors = crossCheck(c);
  if (errors.length > 0) return { ok: false, errors };
  const stateDir = resolve(baseDir, c.controller.stateDir);
  return {
    ok: true,
    config: {
      ...c,
      controller: {
        ...c.controller,
        stateDir,
        bootDir: resolve(baseDir, c.controller.bootDir ?? resolve(stateDir, 'boot')),
        templatesDir: resolve(baseDir, c.controller.templatesDir ?? resolve(packageDir, 'pxe')),
        overlaysDir: resolve(baseDir, c.controller.overlaysDir ?? resolve(packageDir, 'overlays')),
      },
      images: { ...c.images, store: resolve(baseDir, c.images.store ?? resolve(stateDir, 'images')) },
      store: c.store,
    },
  };
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `${key === '(top level)' ? '' : key + '.'}${issue.keys.join(', ')}: unknown key (check the spelling)`;
  }
  return `${key}: ${issue.message}`;
}

/** Rules that span keys: the range must sit inside the controller's subnet, and so on. */
function crossCheck(c: z.infer<typeof schema>): string[] {
  const errors: string[] = [];
  const { address, prefix } = c.controller;
  if (c.rollout.power === 'command' && !c.rollout.command) {
    errors.push('rollout.command: required when rollout.power is command (the shell command that power-cycles one node)');
  }
  if (c.cluster.overload.low >= c.cluster.overload.high) {
    errors.push(`cluster.overload.low: ${c.cluster.overload.low} must be below cluster.overload.high (${c.cluster.overload.high}), or the count would flap`);
  }
  if (c.controller.nat && !c.controller.outsideInterface) {
    errors.push('controller.nat: needs controller.outsideInterface (the interface nodes reach the outside through)');
  }
  if (c.controller.outsideInterface !== undefined && c.controller.outsideInterface === c.controller.interface) {
    errors.push('controller.outsideInterface: must differ from controller.interface (the cluster side)');
  }
  for (const [i, l] of (c.admin.listen ?? []).entries()) {
    if (l.startsWith('unix:')) continue;
    const [host = '', port = ''] = l.split(':');
    if (!isIPv4(host) || Number(port) < 1 || Number(port) > 65535) errors.push(`admin.listen.${i}: ${l} is not address:port`);
  }
  if (c.balancer?.mode === 'managed' && c.balancer.kind !== 'haproxy') {
    errors.push(`balancer.mode: managed runs HAProxy only; use mode: render-only for ${c.balancer.kind}`);
  }
  errors.push(...vipErrors(c));
  if (c.dhcp.mode === 'full') {
    if (!c.dhcp.range) {
      errors.push('dhcp.range: required when dhcp.mode is full, e.g. [198.18.0.100, 198.18.0.199]');
    } else {
      const [lo, hi] = c.dhcp.range;
      if (ipToInt(lo) > ipToInt(hi)) errors.push('dhcp.range: the first address must not be above the second');
      for (const [i, ip] of [lo, hi].entries()) {
        if (!inSubnet(ip, address, prefix)) {
          errors.push(`dhcp.range.${i}: ${ip} is outside ${address}/${prefix} (controller.address/prefix)`);
        }
      }
      if (ipToInt(address) >= ipToInt(lo) && ipToInt(address) <= ipToInt(hi)) {
        errors.push(`dhcp.range: contains controller.address ${address}`);
      }
    }
  }
  errors.push(...relayErrors(c));
  const relayed = c.dhcp.relays.flatMap((r) => parseCidr(r.subnet) ?? []);
  const seen = new Set<string>();
  c.dhcp.reservations.forEach((r, i) => {
    if (seen.has(r.mac)) errors.push(`dhcp.reservations.${i}.mac: ${r.mac} is reserved twice`);
    seen.add(r.mac);
    if (!inSubnet(r.address, address, prefix) && !relayed.some((s) => inSubnet(r.address, s.address, s.prefix))) {
      errors.push(`dhcp.reservations.${i}.address: ${r.address} is outside ${address}/${prefix}${relayed.length > 0 ? ' and every dhcp.relays subnet' : ''}`);
    }
  });
  errors.push(...storeErrors(c));
  if (c.tftp.maxTransfersPerClient > c.tftp.maxTransfers) {
    errors.push(`tftp.maxTransfersPerClient: ${c.tftp.maxTransfersPerClient} is above tftp.maxTransfers (${c.tftp.maxTransfers}); lower it or raise maxTransfers`);
  }
  return errors;
}

/**
 * dhcp.relays: each subnet well-formed, apart from the controller's own subnet and from the
 * others (giaddr must pick one subnet, RFC 2131 §4.3.1), its range and router inside it.
 */
function relayErrors(c: z.infer<typeof schema>): string[] {
  const errors: string[] = [];
  const { relays } = c.dhcp;
  if (relays.length > 0 && c.dhcp.mode !== 'full') {
    return [`dhcp.relays: needs dhcp.mode full (mode ${c.dhcp.mode} does not lease addresses; a proxyDHCP offer is not served through relays, docs/networks.md)`];
  }
  const own = { address: networkAddress(c.controller.address, c.controller.prefix), prefix: c.controller.prefix };
  const earlier: Array<{ address: string; prefix: number }> = [];
  relays.forEach((r, i) => {
    const key = `dhcp.relays.${i}`;
    const s = parseCidr(r.subnet);
    if (!s) return; // reported by the schema
    if (s.prefix < 8 || s.prefix > 30) {
      errors.push(`${key}.subnet: prefix /${s.prefix} must be between /8 and /30`);
      return;
    }
    const network = networkAddress(s.address, s.prefix);
    if (network !== s.address) errors.push(`${key}.subnet: ${r.subnet} has host bits set; write ${network}/${s.prefix}`);
    const overlaps = (o: { address: string; prefix: number }): boolean => inSubnet(o.address, network, Math.min(s.prefix, o.prefix));
    if (overlaps(own)) errors.push(`${key}.subnet: ${network}/${s.prefix} overlaps the controller's own subnet ${own.address}/${own.prefix} (controller.address/prefix), which needs no relay`);
    const clash = earlier.findIndex(overlaps);
    if (clash >= 0) errors.push(`${key}.subnet: ${network}/${s.prefix} overlaps dhcp.relays.${clash}.subnet`);
    earlier.push({ address: network, prefix: s.prefix });
    const broadcast = ipToInt(network) + 2 ** (32 - s.prefix) - 1;
    const [lo, hi] = r.range;
    if (ipToInt(lo) > ipToInt(hi)) errors.push(`${key}.range: the first address must not be above the second`);
    for (const [j, ip] of [lo, hi].entries()) {
      if (!inSubnet(ip, network, s.prefix) || ip === network || ipToInt(ip) === broadcast) {
        errors.push(`${key}.range.${j}: ${ip} is not a host address of ${network}/${s.prefix}`);
      }
    }
    if (!inSubnet(r.router, network, s.prefix)) errors.push(`${key}.router: ${r.router} is outside ${network}/${s.prefix}`);
    else if (ipToInt(r.router) >= ipToInt(lo) && ipToInt(r.router) <= ipToInt(hi)) errors.push(`${key}.range: contains the router ${r.router}`);
  });
  return errors;
}

function vipErrors(c: z.infer<typeof schema>): string[] {
  const vip = c.balancer?.vip;
  if (!vip) return [];
  const errors: string[] = [];
  if (c.balancer?.mode !== 'managed') errors.push('balancer.vip: needs balancer.mode managed (keepalived moves the address between controllers that run HAProxy)');
  const [address = ''] = vip.address.split('/');
  if (address === c.controller.address) errors.push(`balancer.vip.address: ${address} is controller.address; the virtual address must be one no host owns`);
  const listen = c.balancer?.listen;
  if (listen && !listen.some((l) => l.split(':')[0] === address)) {
    errors.push(`balancer.listen: none of ${listen.join(', ')} is on balancer.vip.address ${address}; clients reach the pair there (omit listen for ${address}:80)`);
  }
  return errors;
}

function storeErrors(c: z.infer<typeof schema>): string[] {
  const { store } = c;
  if (store.kind === 'etcd' && !store.endpoints) return ['store.endpoints: required when store.kind is etcd, e.g. [http://198.18.0.11:2379, http://198.18.0.12:2379, http://198.18.0.13:2379]'];
  if (store.kind === 'file' && store.endpoints !== undefined) return ['store.endpoints: only used with store.kind etcd'];
  return [];
}

/** Reads and validates a config file; throws ConfigError naming every key to fix. */
export async function loadConfig(file: string, packageDir: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BootfleetError('ERR_CONFIG_NOT_FOUND', `cannot read config ${file}: pass --config <file>`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [`(syntax) ${(err as Error).message}`]);
  }
  const result = parseConfig(doc, dirname(resolve(file)), packageDir);
  if (!result.ok) throw new ConfigError(file, result.errors);
  return result.config;
}
