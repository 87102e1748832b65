import type { Enrollment } from '../boot/policy.js';

/**
 * The cluster's desired state: what the operator asked for and what the controller decided,
 * in one document of the state store (key `cluster`, src/cluster/store.ts). Every change bumps
 * `generation`; nodes follow it through their manifest, the balancer is rendered from it.
 */
export interface ClusterState {
  generation: number;
  /** Approved machines (`bootfleet node add` / `node approve`). */
  machines: Enrollment[];
  /** Operator settings per node (MAC), for nodes that have any. */
  nodes: Record<string, NodeSettings>;
  sites: Record<string, Site>;
  /** Site name → the nodes (MACs) serving it, as placed (src/cluster/placement). */
  placement: Record<string, string[]>;
  /**
   * Site name → nodes that served it before a move and keep serving it (drained in the balancer)
   * until the nodes it moved to answer its health check: a move never leaves a gap.
   */
  retiring: Record<string, string[]>;
  /** Per node: a token the node agent reboots on when it changes (`bootfleet node reboot`, rollouts). */
  reboots: Record<string, string>;
  /**
   * Per node (MAC): the image it boots (`name@version`), set by rollouts (docs/rollout.md). Wins
   * over the approval's, the config's and the default image, so a node stays on what it was rolled
   * to across later reboots.
   */
  images: Record<string, string>;
  /**
   * Per node: an admin state its servers get in the balancer while a rollout works on it
   * (`drain`: checked, no new requests; `maint`: not checked, no requests). A held node keeps its
   * sites placed while it reboots (src/cluster/reconcile.ts).
   */
  holds: Record<string, NodeHold>;
  /** Per site: replicas added on top of its count while a rollout has one of its nodes out (surge). */
  surge: Record<string, number>;
}

export type NodeHold = 'drain' | 'maint';

/** `active` takes sites; `drain` keeps serving until its sites moved, then none; `maintenance` none. */
export type AdminState = 'active' | 'drain' | 'maintenance';

export interface NodeSettings {
  /** Capacity weight (a Pi 4 = 1, a bigger server more); placement gives load in proportion. */
  weight: number;
  labels: Record<string, string>;
  admin: AdminState;
}

export const DEFAULT_NODE_SETTINGS: NodeSettings = { weight: 1, labels: {}, admin: 'active' };

export interface SiteHealth {
  /** Path the balancer and rollouts check, with the site's first domain as Host. */
  path: string;
  /** Expected status code. */
  status: number;
  /** Optional text the page must contain ("Database connection OK"). */
  text?: string;
}

export interface SiteContent {
  /** First 12 hex digits of the tar's sha256. */
  version: string;
  sha256: string;
  size: number;
  uploadedAt: string;
}

export interface Site {
  name: string;
  /** Lower-case host names; the first is the one health checks send. */
  domains: string[];
  /** The port the site is served on, on every node that serves it. */
  port: number;
  /** Expected load (placement's unit): 1 for an ordinary site. */
  weight: number;
  minReplicas: number;
  maxReplicas: number;
  /** How many nodes serve it now: minReplicas, raised by overload help up to maxReplicas. */
  replicas: number;
  /** When `replicas` last changed (ms since the epoch): the hysteresis of overload help. */
  lastScaleAt: number;
  /** Requests per second one replica serves comfortably: above it help is added. */
  capacity: number;
  health: SiteHealth;
  affinity?: { cookie: string };
  /** Nodes an operator pinned it to (`bootfleet assign`). */
  pinned: string[];
  content?: SiteContent;
}

export function emptyCluster(): ClusterState {
  return { generation: 0, machines: [], nodes: {}, sites: {}, placement: {}, retiring: {}, reboots: {}, images: {}, holds: {}, surge: {} };
}

/** Node ports for sites start here (below Linux's ephemeral range, clear of 80/443). */
export const FIRST_SITE_PORT = 8001;

/** The lowest port no site uses. */
export function freePort(sites: Readonly<Record<string, Site>>): number {
  const used = new Set(Object.values(sites).map((s) => s.port));
  let port = FIRST_SITE_PORT;
  while (used.has(port)) port++;
  return port;
}
