import type { NodeRecord } from './nodes.js';
import type { NodeSettings } from './model.js';

/**
 * A node's state, derived (never stored): `maintenance` and `draining` are what the operator set;
 * `ready` while its agent's heartbeats are fresh; `down` once they stop for longer than
 * `downAfterMs` (or never came and nothing happened for a while); `booting` in between: seen
 * recently, no heartbeat yet.
 */
export type NodeState = 'booting' | 'ready' | 'draining' | 'down' | 'maintenance';

/** How long a node that is booting (boot events, no heartbeat yet) counts as booting. */
const BOOTING_MS = 10 * 60_000;

export function nodeState(settings: NodeSettings, node: Pick<NodeRecord, 'heartbeat' | 'lastSeen'>, now: number, downAfterMs: number): NodeState {
  if (settings.admin === 'maintenance') return 'maintenance';
  if (settings.admin === 'drain') return 'draining';
  const beat = node.heartbeat ? Date.parse(node.heartbeat.at) : undefined;
  if (beat !== undefined && now - beat <= downAfterMs) return 'ready';
  if (beat !== undefined && beat >= Date.parse(node.lastSeen) - downAfterMs) return 'down';
  const seen = Date.parse(node.lastSeen);
  return Number.isFinite(seen) && now - seen <= BOOTING_MS ? 'booting' : 'down';
}
