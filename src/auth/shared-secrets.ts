import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.js';
import { ConflictError, type StateStore } from '../store/state.js';
import { ADMIN_TOKEN_FILE, NODE_KEY_FILE, type ControllerSecrets } from './secrets.js';

/** The `secrets` key of a shared store: one admin token and one node key for every controller. */
interface SharedSecrets {
  adminToken: string;
  nodeKey: string;
}

const KEY = 'secrets';

/**
 * With several controllers on one etcd (docs/scale-out.md), a node's secret must check on
 * whichever controller the node reaches, and one admin token must open every controller. The
 * first controller to start puts its own secrets in the store (compare-and-swap on an absent key,
 * so two first starts cannot both win); every other controller adopts them and rewrites its
 * `stateDir` files, so the CLI on its host reads the token that works.
 */
export async function shareSecrets(store: StateStore, stateDir: string, local: ControllerSecrets): Promise<ControllerSecrets & { adopted: boolean }> {
  const mine: SharedSecrets = { adminToken: local.adminToken, nodeKey: local.nodeKey.toString('hex') };
  let shared = (await store.get<SharedSecrets>(KEY))?.value;
  if (!shared) {
    try {
      await store.put(KEY, mine, 0);
      shared = mine;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      shared = (await store.get<SharedSecrets>(KEY))?.value ?? mine;
    }
  }
  const adopted = shared.adminToken !== mine.adminToken || shared.nodeKey !== mine.nodeKey;
  if (adopted) {
    await writeFileAtomic(join(stateDir, ADMIN_TOKEN_FILE), `${shared.adminToken}\n`, 0o600);
    await writeFileAtomic(join(stateDir, NODE_KEY_FILE), `${shared.nodeKey}\n`, 0o600);
  }
  return { adminToken: shared.adminToken, adminTokenCreated: local.adminTokenCreated && !adopted, nodeKey: Buffer.from(shared.nodeKey, 'hex'), adopted };
}
