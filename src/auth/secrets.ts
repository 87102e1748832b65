import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError } from '../errors.js';

/**
 * The controller's two secrets, each a file in `stateDir` readable by its owner only (0600),
 * created at first start (docs/security.md):
 * - `admin-token`: the bearer token every admin route needs (the CLI reads it from here);
 * - `node-key`: the key from which each node's secret is derived, HMAC-SHA256(key, MAC), so the
 *   controller stores no per-node secrets and a node's secret survives a controller restart.
 */
export interface ControllerSecrets {
  adminToken: string;
  /** Set when this start created the admin token (the controller prints it once). */
  adminTokenCreated: boolean;
  nodeKey: Buffer;
}

export const ADMIN_TOKEN_FILE = 'admin-token';
export const NODE_KEY_FILE = 'node-key';

export async function loadSecrets(stateDir: string): Promise<ControllerSecrets> {
  const admin = await readOrCreate(join(stateDir, ADMIN_TOKEN_FILE), () => randomBytes(32).toString('hex') + '\n');
  const key = await readOrCreate(join(stateDir, NODE_KEY_FILE), () => randomBytes(32).toString('hex') + '\n');
  const adminToken = admin.text.trim();
  const nodeKeyHex = key.text.trim();
  if (!/^[0-9a-f]{64}$/.test(adminToken)) throw new BootfleetError('ERR_STATE_CORRUPT', `${join(stateDir, ADMIN_TOKEN_FILE)} is not a 64-hex-digit token; remove it to make a new one`);
  if (!/^[0-9a-f]{64}$/.test(nodeKeyHex)) throw new BootfleetError('ERR_STATE_CORRUPT', `${join(stateDir, NODE_KEY_FILE)} is not a 64-hex-digit key; remove it (every node then gets a new secret at its next boot)`);
  return { adminToken, adminTokenCreated: admin.created, nodeKey: Buffer.from(nodeKeyHex, 'hex') };
}

/** Reads the admin token the controller created (for the CLI). */
export async function readAdminToken(stateDir: string): Promise<string | undefined> {
  const text = await readFile(join(stateDir, ADMIN_TOKEN_FILE), 'utf8').catch(() => undefined);
  return text?.trim() || undefined;
}

/** A node's secret: 64 lower-case hex digits, the same at every boot while the key stays. */
export function nodeSecret(nodeKey: Buffer, mac: string): string {
  return createHmac('sha256', nodeKey).update(`bootfleet-node:${mac}`).digest('hex');
}

/** Constant-time comparison of two secrets (a length mismatch is simply false). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Creates `file` with mode 0600 and `make()`'s content unless it exists (O_EXCL: no race, no clobber). */
async function readOrCreate(file: string, make: () => string): Promise<{ text: string; created: boolean }> {
  try {
    const handle = await open(file, 'wx', 0o600);
    const text = make();
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return { text, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { text: await readFile(file, 'utf8'), created: false };
  }
}
