/**
 * Which controller runs placement and rollouts. With one controller (store.kind file) it always
 * leads; with several on etcd, one at a time (src/store/etcd/leadership.ts, docs/scale-out.md).
 * Every controller serves DHCP, TFTP, HTTP and manifests either way.
 */
export interface Leadership {
  /** This controller's name. */
  readonly name: string;
  /** True while this controller leads. Checked before every leader-only step, so a deposed leader stops at once. */
  isLeader(): boolean;
  /** The leader's name as last seen, if any. */
  leader(): string | undefined;
  /** Told when isLeader() changes. */
  onChange(listener: (leading: boolean) => void): () => void;
  /** Hands leadership over (if held) and stops campaigning. */
  stop(): Promise<void>;
}

/** The one controller of a file store: always the leader. */
export function soleLeader(name: string): Leadership {
  return { name, isLeader: () => true, leader: () => name, onChange: () => () => undefined, stop: async () => undefined };
}
