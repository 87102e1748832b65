import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { readJsonFile } from '../store/atomic.js';
import { mutate, type StateStore } from '../store/state.js';
import type { Enrollment } from '../boot/policy.js';
import { emptyCluster, type ClusterState } from './model.js';

const KEY = 'cluster';

/**
 * The cluster document in the state store, with a snapshot in memory for the synchronous
 * readers (the boot policy, manifests). Every change goes through {@link change}: a
 * compare-and-swap that bumps `generation` when (and only when) something changed, then tells
 * the listeners (the reconciler, long-polling manifests).
 */
export class ClusterStore {
  private snapshot: ClusterState = emptyCluster();
  private readonly listeners = new Set<(s: ClusterState) => void>();

  private constructor(private readonly store: StateStore) {}

  static async open(store: StateStore, stateDir: string): Promise<ClusterStore> {
    const cluster = new ClusterStore(store);
    const found = await store.get<ClusterState>(KEY);
    cluster.snapshot = { ...emptyCluster(), ...found?.value };
    if (!found) await cluster.importEnrollment(stateDir);
    // A reload that fails (etcd unreachable) is not fatal: the watch calls again once it is back.
    store.watch(KEY, () => void cluster.reload().catch(() => undefined));
    return cluster;
  }

  /** The state as last written (never mutate it: use change()). */
  get current(): ClusterState {
    return this.snapshot;
  }

  onChange(listener: (s: ClusterState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies `edit` to a copy of the state; writes it (generation + 1) if it changed anything. */
  async change(edit: (s: ClusterState) => void): Promise<ClusterState> {
    let changed = false;
    const result = await mutate<ClusterState>(this.store, KEY, emptyCluster(), (stored) => {
      // A document written before a field existed gets it empty (e.g. `images`, `holds`).
      const s = { ...emptyCluster(), ...stored };
      const before = structuredClone(s);
      edit(s);
      changed = !isDeepStrictEqual(before, s);
      return changed ? { ...s, generation: s.generation + 1 } : s;
    });
    if (changed) this.publish(result.value);
    return result.value;
  }

  // --- approvals (src/boot/policy.ts Enrollment) -------------------------------------------------

  list(): readonly Enrollment[] {
    return this.snapshot.machines;
  }

  async add(entry: Enrollment): Promise<Enrollment> {
    await this.change((s) => {
      const same = (e: Enrollment): boolean => (entry.mac !== undefined && e.mac === entry.mac) || (entry.serial !== undefined && e.serial === entry.serial);
      s.machines = [...s.machines.filter((e) => !same(e)), entry].sort((a, b) => (a.mac ?? a.serial ?? '').localeCompare(b.mac ?? b.serial ?? ''));
    });
    return entry;
  }

  async remove(mac: string, serial?: string): Promise<boolean> {
    const before = this.snapshot.machines.length;
    const after = await this.change((s) => {
      s.machines = s.machines.filter((e) => e.mac !== mac && (serial === undefined || e.serial !== serial));
      delete s.nodes[mac];
      delete s.reboots[mac];
      delete s.images[mac];
      delete s.holds[mac];
      for (const site of Object.values(s.sites)) site.pinned = site.pinned.filter((m) => m !== mac);
    });
    return after.machines.length < before;
  }

  /** Asks the node's agent to reboot (it reboots when its manifest's token changes). */
  async requestReboot(mac: string): Promise<string> {
    const token = randomBytes(8).toString('hex');
    await this.change((s) => {
      s.reboots[mac] = token;
    });
    return token;
  }

  private async reload(): Promise<void> {
    const found = await this.store.get<ClusterState>(KEY);
    if (found && found.value.generation !== this.snapshot.generation) this.publish({ ...emptyCluster(), ...found.value });
  }

  private publish(state: ClusterState): void {
    this.snapshot = state;
    for (const l of this.listeners) l(state);
  }

  /** The approvals of the first format (enrollment.json, before the cluster document existed). */
  private async importEnrollment(stateDir: string): Promise<void> {
    type Old = { version: 1; pis: Enrollment[] } | { version: 2; machines: Enrollment[] };
    const old = await readJsonFile<Old | undefined>(join(stateDir, 'enrollment.json'), undefined);
    const machines = old === undefined ? [] : old.version === 1 ? old.pis : old.machines;
    if (machines.length > 0) await this.change((s) => void (s.machines = machines));
  }
}
