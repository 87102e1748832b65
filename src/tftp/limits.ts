/**
 * Defaults for the TFTP server's resource caps; docs/tftp.md "Limits" gives the reasoning.
 *
 * - 256 transfers: each holds one socket (two on the native fast path), so 256 stays well inside
 *   the common 1024-descriptor limit next to DHCP, HTTP and the files being read, and is more than
 *   a hundred Pis booting at once need (each runs its transfers one after another).
 * - 8 per client address: a booting machine fetches one file at a time; a few more cover probes
 *   a Pi abandons without an ERROR and RRQs a client resends from a new port after a timeout,
 *   whose old transfer lingers until our own timeout ends it.
 * - 10 s timeout option: above U-Boot's default of 5 s, far below the RFC 2349 maximum of 255 s.
 */
export const DEFAULT_MAX_TRANSFERS = 256;
export const DEFAULT_MAX_TRANSFERS_PER_CLIENT = 8;
export const DEFAULT_MAX_TIMEOUT_SECONDS = 10;

/** Which cap a request hit. */
export type Refusal = 'server' | 'client';

/**
 * Counts running transfers, in total and per client address, against two caps. Pure bookkeeping:
 * the server asks `acquire` before opening a transfer and calls `release` once when it ends.
 */
export class TransferSlots {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  constructor(
    readonly max: number,
    readonly maxPerClient: number,
  ) {}

  /** Transfers running now. */
  get active(): number {
    return this.total;
  }

  /** Takes a slot for `address`, or returns the cap that is full (and takes nothing). */
  acquire(address: string): Refusal | undefined {
    if (this.total >= this.max) return 'server';
    const mine = this.perClient.get(address) ?? 0;
    if (mine >= this.maxPerClient) return 'client';
    this.total++;
    this.perClient.set(address, mine + 1);
    return undefined;
  }

  /** Gives back a slot taken by acquire(address). */
  release(address: string): void {
    const mine = this.perClient.get(address) ?? 0;
    if (mine <= 0) return;
    this.total--;
    if (mine === 1) this.perClient.delete(address);
    else this.perClient.set(address, mine - 1);
  }

  /** Forgets every slot (server stop). */
  clear(): void {
    this.total = 0;
    this.perClient.clear();
  }
}
