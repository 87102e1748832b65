/**
 * What the load balancer is told: which sites exist, which nodes serve each one and how to check
 * them. The controller builds it from the placement; every renderer (src/balancer/render.ts) and
 * the managed HAProxy (src/balancer/haproxy/process.ts) read only this. docs/balancer.md explains
 * what each balancer kind does with each field.
 */
export type ServerAdmin = 'ready' | 'drain' | 'maint';

export interface BalancerServer {
  /** Node id (a MAC); every server name, cookie value and runtime command derives from it. */
  node: string;
  address: string;
  port: number;
  admin: ServerAdmin;
  /** 1–256, default 1. */
  weight?: number;
}

export interface BalancerSite {
  /** Site name, [a-z0-9][a-z0-9-]*. */
  id: string;
  /** Lower-case host names; the first is the primary (the health check's Host header). */
  domains: string[];
  /** The nodes serving it (from the placement), on the site's port on each node. */
  servers: BalancerServer[];
  check: { path: string; status: number; text?: string; intervalMs?: number };
  /** Session affinity by a cookie the balancer inserts. */
  affinity?: { cookie: string };
  /**
   * The site's own frontend for the layer-4 kinds (pen, keepalived/IPVS), which cannot route by
   * Host: each site needs its own address:port there. Ignored by HAProxy, nginx and Apache.
   */
  listen?: { address: string; port: number };
}

export interface BalancerListen {
  address: string;
  port: number;
  /**
   * The address comes and goes (a VRRP virtual address, docs/balancer.md "Balancer pair (VRRP)"):
   * bind to it even while this host does not have it. HAProxy only; the other kinds ignore it.
   */
  floating?: boolean;
}

export interface BalancerModel {
  /** Frontends (may be several addresses). */
  listen: BalancerListen[];
  sites: BalancerSite[];
  /** The placement generation it was rendered from (written as a comment). */
  generation: number;
  /** Where the balancer's map, server-state file, sockets and pid file live (absolute). */
  paths: { stateDir: string };
  /** Optional timeouts; defaults in docs/balancer.md. */
  timeouts?: { serverMs?: number };
}

export type BalancerKind = 'haproxy' | 'nginx' | 'apache' | 'pen' | 'keepalived';
export const BALANCER_KINDS: readonly BalancerKind[] = ['haproxy', 'nginx', 'apache', 'pen', 'keepalived'];

export interface RenderedFile {
  /** Relative to the output directory. */
  path: string;
  text: string;
  mode?: number;
}

export { renderBalancer } from './render.js';
