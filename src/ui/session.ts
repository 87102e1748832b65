import { createHash, randomBytes } from 'node:crypto';

/** How long a web UI session lasts from login (absolute, not sliding: a stolen cookie ages out). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** At most this many live sessions; a new login beyond it ends the oldest (memory stays bounded). */
export const MAX_SESSIONS = 256;

/**
 * The web UI's sessions (docs/ui.md "Login and session"): random 256-bit ids kept in memory,
 * each with an expiry. Chosen over HMAC-signed cookies because logging out really ends a
 * session (a signed cookie stays valid until it expires unless a deny-list is kept), and there
 * is no signing key to store or rotate; the price is that a controller restart logs everyone
 * out, which costs an operator one login. Only the sha256 of an id is kept, so a lookup leaks
 * nothing through timing about the ids that exist.
 */
export class Sessions {
  /** sha256(id) → expiry (ms since the epoch), in insertion order (oldest first). */
  private readonly live = new Map<string, number>();

  constructor(private readonly opts: { ttlMs?: number; max?: number; now?: () => number } = {}) {}

  /** A new session; its id goes into the cookie and nowhere else. */
  create(): { id: string; maxAgeSeconds: number } {
    this.sweep();
    const max = this.opts.max ?? MAX_SESSIONS;
    for (const key of this.live.keys()) {
      if (this.live.size < max) break;
      this.live.delete(key);
    }
    const id = randomBytes(32).toString('base64url');
    const ttl = this.opts.ttlMs ?? SESSION_TTL_MS;
    this.live.set(digest(id), this.now() + ttl);
    return { id, maxAgeSeconds: Math.floor(ttl / 1000) };
  }

  valid(id: string): boolean {
    const expires = this.live.get(digest(id));
    if (expires === undefined) return false;
    if (expires > this.now()) return true;
    this.live.delete(digest(id));
    return false;
  }

  /** Logout: the id is worthless from now on. */
  end(id: string): void {
    this.live.delete(digest(id));
  }

  get size(): number {
    this.sweep();
    return this.live.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, expires] of this.live) if (expires <= now) this.live.delete(key);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
