import type { MachineSpec } from '../boot/policy.js';
import type { ClusterState } from './model.js';

/**
 * What one node is asked to run (GET /api/nodes/<mac>/manifest): its name, the image it should
 * be on, the sites placed on it with their content, and a reboot token. Pure: built from the
 * cluster state and the node's boot spec.
 */
export interface Manifest {
  generation: number;
  hostname: string;
  /** `name@version` of the build the node should run (a rollout compares it with what it runs). */
  image: string;
  /** Seconds between the agent's heartbeats. */
  heartbeatSeconds: number;
  /** The node agent reboots when this changes from what it was at its boot ('' = none asked). */
  reboot: string;
  sites: ManifestSite[];
  /**
   * Every live controller's HTTP base, the answering one first: with several controllers (store.kind
   * etcd) an agent whose controller stops answering goes on with the next (docs/agent.md).
   */
  controllers: string[];
}

export interface ManifestSite {
  name: string;
  port: number;
  domains: string[];
  health: string;
  /** Content version (12 hex digits) and the sha256 the agent checks the download against. */
  version: string;
  sha256: string;
}

export function manifestFor(spec: MachineSpec, state: ClusterState, heartbeatSeconds: number, controllers: string[] = []): Manifest {
  const sites = Object.values(state.sites)
    .filter((s) => s.content !== undefined && [...(state.placement[s.name] ?? []), ...(state.retiring[s.name] ?? [])].includes(spec.mac))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s): ManifestSite => ({
      name: s.name, port: s.port, domains: s.domains, health: s.health.path,
      version: s.content?.version ?? '', sha256: s.content?.sha256 ?? '',
    }));
  return {
    generation: state.generation,
    hostname: spec.hostname,
    image: spec.image ? `${spec.image.name}@${spec.image.version}` : '',
    heartbeatSeconds,
    reboot: state.reboots[spec.mac] ?? '',
    sites,
    controllers,
  };
}

/**
 * The manifest as `key=value` lines for the POSIX sh agent (read line by line, never
 * evaluated), one `site=` line per site: `site=<name> <port> <version> <sha256> <health path>
 * <domain,domain…>` — fields no site value can contain a space in (validated at site add) — and
 * one `controller=<http base>` line per live controller.
 */
export function manifestText(m: Manifest): string {
  const lines = [
    `generation=${m.generation}`,
    `hostname=${m.hostname}`,
    `image=${m.image}`,
    `heartbeat=${m.heartbeatSeconds}`,
    `reboot=${m.reboot}`,
    ...m.sites.map((s) => `site=${s.name} ${s.port} ${s.version} ${s.sha256} ${s.health} ${s.domains.join(',')}`),
    ...m.controllers.map((c) => `controller=${c}`),
  ];
  return lines.join('\n') + '\n';
}
