/**
 * Address claims shared between controllers (store.kind etcd, docs/scale-out.md): before a
 * full-mode server OFFERs or ACKs an address it claims it for the client's MAC in the shared
 * store, so two controllers answering on one LAN never hand one address to two clients. The local
 * LeasePool still decides which address to offer; a claim only confirms it or says who holds it.
 */
export type ClaimResult = { ok: true } | { ok: false; mac: string; until: number };

export interface AddressClaims {
  /**
   * Claims `ip` for `mac` until `until` (epoch ms). Refused while another MAC holds it unexpired.
   * Throws when the store does not answer: the server then stays silent and the client retries.
   */
  claim(ip: string, mac: string, until: number): Promise<ClaimResult>;
  /** Gives `ip` back if `mac` holds it (an offer the client did not take). */
  release(ip: string, mac: string): Promise<void>;
}
